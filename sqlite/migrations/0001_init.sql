CREATE TABLE workspaces (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE sources (
	id             TEXT PRIMARY KEY,
	workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
	name           TEXT NOT NULL,
	write_key_hash TEXT NOT NULL UNIQUE,
	created_at     INTEGER NOT NULL,
	UNIQUE (workspace_id, name)
);

CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	revoked_at   INTEGER
);

-- Raw accepted events. id is the event's place in the log, seq << 16 | idx (a log record holds
-- fewer than 65536 events), so rows are appended in key order, which is what SQLite's rowid
-- b-tree does best with rows this large. message_id is unique per workspace, which is what
-- makes SDK retries and log replays harmless.
CREATE TABLE events (
	id           INTEGER PRIMARY KEY,
	workspace_id TEXT NOT NULL,
	source_id    TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	type         TEXT NOT NULL,
	name         TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	anonymous_id TEXT NOT NULL,
	ts           INTEGER NOT NULL,
	received_at  INTEGER NOT NULL,
	body         BLOB NOT NULL
);
CREATE UNIQUE INDEX events_message ON events (workspace_id, message_id);
CREATE INDEX events_workspace ON events (workspace_id, id);
CREATE INDEX events_user ON events (workspace_id, user_id, id) WHERE user_id <> '';
CREATE INDEX events_anonymous ON events (workspace_id, anonymous_id, id) WHERE anonymous_id <> '';

CREATE TABLE positions (
	consumer  TEXT NOT NULL,
	partition INTEGER NOT NULL,
	seq       INTEGER NOT NULL,
	PRIMARY KEY (consumer, partition)
);
