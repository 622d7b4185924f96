-- Per-person data keys of the log (wrapped with the instance key). Deleting a row makes that
-- person's log entries unreadable.
CREATE TABLE subject_keys (
	workspace_id text NOT NULL,
	subject      text NOT NULL,
	key          bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, subject)
);

-- Keyed hashes of erased identifiers: events carrying one are dropped.
CREATE TABLE suppressions (
	seq          bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	hash         text NOT NULL,
	created_at   timestamptz NOT NULL,
	UNIQUE (workspace_id, hash)
);

CREATE TABLE erasures (
	workspace_id text NOT NULL,
	id           text NOT NULL,
	doc          jsonb NOT NULL,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id)
);

CREATE TABLE audit_log (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	at           timestamptz NOT NULL,
	actor        text NOT NULL,
	role         text NOT NULL,
	action       text NOT NULL,
	target       text NOT NULL,
	status       integer NOT NULL,
	remote_addr  text NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (workspace_id, actor, id);
