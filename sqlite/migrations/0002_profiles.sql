-- Profiles and the identity graph (issue 3). The events table drops its user_id/anonymous_id
-- indexes: lookups by those ids go through identities to the profile timeline, and every
-- random-key index costs a page write per event (BENCHMARKS.md).
DROP INDEX events_user;
DROP INDEX events_anonymous;
ALTER TABLE events ADD COLUMN profile_id TEXT NOT NULL DEFAULT '';
CREATE INDEX events_profile ON events (workspace_id, profile_id, id) WHERE profile_id <> '';

-- One row per profile. A profile merged into another keeps its row, emptied, with merged_into
-- naming the survivor, so that its id still finds the person. data holds traits and groups
-- with provenance as JSON.
CREATE TABLE profiles (
	workspace_id TEXT NOT NULL,
	id           TEXT NOT NULL,
	rank         INTEGER NOT NULL,
	merged_into  TEXT NOT NULL DEFAULT '',
	data         BLOB NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE INDEX profiles_merged ON profiles (workspace_id, merged_into) WHERE merged_into <> '';

CREATE TABLE identities (
	workspace_id TEXT NOT NULL,
	kind         TEXT NOT NULL,
	value        TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	source_id    TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	rank         INTEGER NOT NULL,
	at           INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_profile ON identities (workspace_id, profile_id);

CREATE TABLE decisions (
	id           INTEGER PRIMARY KEY,
	workspace_id TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	action       TEXT NOT NULL,
	from_id      TEXT NOT NULL,
	kind         TEXT NOT NULL,
	value        TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	reason       TEXT NOT NULL,
	rank         INTEGER NOT NULL,
	at           INTEGER NOT NULL
);
CREATE INDEX decisions_profile ON decisions (workspace_id, profile_id, id);

-- Separations are configuration (made by splits), not derived state: a replay keeps them.
CREATE TABLE separations (
	id           INTEGER PRIMARY KEY,
	workspace_id TEXT NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE TABLE separation_members (
	separation_id INTEGER NOT NULL REFERENCES separations(id),
	workspace_id  TEXT NOT NULL,
	side          TEXT NOT NULL CHECK (side IN ('A', 'B')),
	kind          TEXT NOT NULL,
	value         TEXT NOT NULL
);
CREATE INDEX separation_members_id ON separation_members (workspace_id, kind, value);
