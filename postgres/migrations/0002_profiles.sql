-- Profiles and the identity graph; see the SQLite migration of the same name for the meaning.
DROP INDEX events_user;
DROP INDEX events_anonymous;
ALTER TABLE events ADD COLUMN profile_id text NOT NULL DEFAULT '';
CREATE INDEX events_profile ON events (workspace_id, profile_id, seq, idx) WHERE profile_id <> '';

-- data is bytea, not jsonb: jsonb rejects some JSON SDKs send (\u0000), and a row the
-- processor cannot write would stop its partition.
CREATE TABLE profiles (
	workspace_id text NOT NULL,
	id           text NOT NULL,
	rank         bigint NOT NULL,
	merged_into  text NOT NULL DEFAULT '',
	data         bytea NOT NULL,
	first_seen   timestamptz,
	last_seen    timestamptz,
	version      bigint NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id)
);
CREATE INDEX profiles_merged ON profiles (workspace_id, merged_into) WHERE merged_into <> '';

CREATE TABLE identities (
	workspace_id text NOT NULL,
	kind         text NOT NULL,
	value        text NOT NULL,
	profile_id   text NOT NULL,
	source_id    text NOT NULL,
	message_id   text NOT NULL,
	rank         bigint NOT NULL,
	at           timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, kind, value)
);
CREATE INDEX identities_profile ON identities (workspace_id, profile_id);

CREATE TABLE decisions (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	profile_id   text NOT NULL,
	action       text NOT NULL,
	from_id      text NOT NULL,
	kind         text NOT NULL,
	value        text NOT NULL,
	message_id   text NOT NULL,
	reason       text NOT NULL,
	rank         bigint NOT NULL,
	at           timestamptz NOT NULL
);
CREATE INDEX decisions_profile ON decisions (workspace_id, profile_id, id);

CREATE TABLE separations (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	created_at   timestamptz NOT NULL
);
CREATE TABLE separation_members (
	separation_id bigint NOT NULL REFERENCES separations(id),
	workspace_id  text NOT NULL,
	side          text NOT NULL CHECK (side IN ('A', 'B')),
	kind          text NOT NULL,
	value         text NOT NULL,
	ord           serial
);
CREATE INDEX separation_members_id ON separation_members (workspace_id, kind, value);
