-- Per-person data keys of the log (wrapped with the instance key). Deleting a row makes that
-- person's log entries unreadable.
CREATE TABLE subject_keys (
	workspace_id TEXT NOT NULL,
	subject      TEXT NOT NULL,
	key          BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, subject)
) WITHOUT ROWID;

-- Keyed hashes of erased identifiers: events carrying one are dropped.
CREATE TABLE suppressions (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL,
	hash         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	UNIQUE (workspace_id, hash)
);

CREATE TABLE erasures (
	workspace_id TEXT NOT NULL,
	id           TEXT NOT NULL,
	doc          BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id)
);

CREATE TABLE audit_log (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL,
	at           INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	role         TEXT NOT NULL,
	action       TEXT NOT NULL,
	target       TEXT NOT NULL,
	status       INTEGER NOT NULL,
	remote_addr  TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (workspace_id, actor, id);
