-- Computed traits and segments; see the SQLite migration of the same name for the meaning.
ALTER TABLE profiles ADD COLUMN expires timestamptz;
CREATE INDEX profiles_expires ON profiles (workspace_id, expires) WHERE expires IS NOT NULL;

CREATE TABLE audience_versions (
	workspace_id text PRIMARY KEY,
	version      bigint NOT NULL,
	built        bigint NOT NULL DEFAULT 0,
	processed    bigint NOT NULL DEFAULT 0,
	total        bigint NOT NULL DEFAULT 0
);

CREATE TABLE computed_traits (
	workspace_id text NOT NULL,
	name         text NOT NULL,
	def          bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, name)
);

CREATE TABLE segments (
	workspace_id text NOT NULL,
	id           text NOT NULL,
	name         text NOT NULL,
	description  text NOT NULL,
	condition    text NOT NULL,
	version      bigint NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE segment_members (
	workspace_id text NOT NULL,
	segment_id   text NOT NULL,
	profile_id   text NOT NULL,
	since        timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, segment_id, profile_id)
);
CREATE INDEX segment_members_profile ON segment_members (workspace_id, profile_id);

CREATE TABLE segment_history (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	profile_id   text NOT NULL,
	segment_id   text NOT NULL,
	entered      boolean NOT NULL,
	at           timestamptz NOT NULL
);
CREATE INDEX segment_history_profile ON segment_history (workspace_id, profile_id, id);

CREATE TABLE changes (
	seq          bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	type         text NOT NULL,
	profile_id   text NOT NULL,
	segment_id   text NOT NULL,
	at           timestamptz NOT NULL,
	data         bytea
);
