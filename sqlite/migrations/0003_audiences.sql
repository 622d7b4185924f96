-- Computed traits and segments (issue 4). Definitions are configuration: a replay keeps them
-- and rebuilds memberships. audience_versions counts definition changes per workspace; built
-- is the version the stored profiles were last fully recomputed for (segments whose version
-- is newer are still being built).
ALTER TABLE profiles ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;
CREATE INDEX profiles_expires ON profiles (workspace_id, expires) WHERE expires > 0;

CREATE TABLE audience_versions (
	workspace_id TEXT PRIMARY KEY,
	version      INTEGER NOT NULL,
	built        INTEGER NOT NULL DEFAULT 0,
	processed    INTEGER NOT NULL DEFAULT 0,
	total        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE computed_traits (
	workspace_id TEXT NOT NULL,
	name         TEXT NOT NULL,
	def          BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, name)
);

CREATE TABLE segments (
	workspace_id TEXT NOT NULL,
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	description  TEXT NOT NULL,
	condition    TEXT NOT NULL,
	version      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE segment_members (
	workspace_id TEXT NOT NULL,
	segment_id   TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	since        INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, segment_id, profile_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_profile ON segment_members (workspace_id, profile_id);

CREATE TABLE segment_history (
	id           INTEGER PRIMARY KEY,
	workspace_id TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	segment_id   TEXT NOT NULL,
	entered      INTEGER NOT NULL,
	at           INTEGER NOT NULL
);
CREATE INDEX segment_history_profile ON segment_history (workspace_id, profile_id, id);

-- The changes stream's outbox: written in the processing transaction, relayed to consumers in
-- seq order. AUTOINCREMENT: a seq is never reused, even after the newest rows are deleted.
CREATE TABLE changes (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL,
	type         TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	segment_id   TEXT NOT NULL,
	at           INTEGER NOT NULL,
	data         BLOB
);
