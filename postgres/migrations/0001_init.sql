CREATE TABLE workspaces (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE sources (
	id             text PRIMARY KEY,
	workspace_id   text NOT NULL REFERENCES workspaces(id),
	name           text NOT NULL,
	write_key_hash text NOT NULL UNIQUE,
	created_at     timestamptz NOT NULL,
	UNIQUE (workspace_id, name)
);

CREATE TABLE tokens (
	id           text PRIMARY KEY,
	workspace_id text NOT NULL REFERENCES workspaces(id),
	name         text NOT NULL,
	role         text NOT NULL,
	hash         text NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz,
	revoked_at   timestamptz
);

-- Raw accepted events; see the SQLite schema for the meaning of the columns. The body is kept
-- as bytes: jsonb would reject some JSON that SDKs send (\u0000 in strings).
CREATE TABLE events (
	workspace_id text NOT NULL,
	seq          bigint NOT NULL,
	idx          integer NOT NULL,
	source_id    text NOT NULL,
	message_id   text NOT NULL,
	type         text NOT NULL,
	name         text NOT NULL,
	user_id      text NOT NULL,
	anonymous_id text NOT NULL,
	ts           timestamptz NOT NULL,
	received_at  timestamptz NOT NULL,
	body         bytea NOT NULL,
	PRIMARY KEY (workspace_id, seq, idx)
);
CREATE UNIQUE INDEX events_message ON events (workspace_id, message_id);
CREATE INDEX events_user ON events (workspace_id, user_id, seq, idx) WHERE user_id <> '';
CREATE INDEX events_anonymous ON events (workspace_id, anonymous_id, seq, idx) WHERE anonymous_id <> '';

CREATE TABLE positions (
	consumer  text NOT NULL,
	partition integer NOT NULL,
	seq       bigint NOT NULL,
	PRIMARY KEY (consumer, partition)
);
