-- Syncs scheduled by the server (configuration; credentials in the config are sealed by the
-- sealed store), their runs, and the items each has seen: row keys with the identifier the row
-- was imported under, or file versions imported.
CREATE TABLE syncs (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	paused       INTEGER NOT NULL DEFAULT 0,
	next_run_at  INTEGER,
	document     TEXT NOT NULL,
	state        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);
CREATE INDEX syncs_due ON syncs (next_run_at) WHERE paused = 0;

CREATE TABLE sync_runs (
	workspace_id TEXT NOT NULL,
	sync_id      TEXT NOT NULL,
	id           TEXT NOT NULL,
	status       TEXT NOT NULL,
	started_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	document     TEXT NOT NULL,
	PRIMARY KEY (workspace_id, id)
);
CREATE INDEX sync_runs_sync ON sync_runs (workspace_id, sync_id, started_at);

CREATE TABLE sync_items (
	workspace_id TEXT NOT NULL,
	sync_id      TEXT NOT NULL,
	key          TEXT NOT NULL,
	kind         TEXT NOT NULL,
	value        TEXT NOT NULL,
	PRIMARY KEY (workspace_id, sync_id, key)
) WITHOUT ROWID;
CREATE INDEX sync_items_ref ON sync_items (workspace_id, kind, value);
