-- Syncs scheduled by the server (configuration; credentials in the config are sealed by the
-- sealed store), their runs, and the items each has seen: row keys with the identifier the row
-- was imported under, or file versions imported.
CREATE TABLE syncs (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	name         text NOT NULL,
	paused       boolean NOT NULL DEFAULT false,
	next_run_at  timestamptz,
	document     jsonb NOT NULL,
	state        text NOT NULL DEFAULT '',
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);
CREATE INDEX syncs_due ON syncs (next_run_at) WHERE NOT paused;

CREATE TABLE sync_runs (
	workspace_id text NOT NULL,
	sync_id      text NOT NULL,
	id           text NOT NULL,
	status       text NOT NULL,
	started_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	document     jsonb NOT NULL,
	PRIMARY KEY (workspace_id, id)
);
CREATE INDEX sync_runs_sync ON sync_runs (workspace_id, sync_id, started_at);

CREATE TABLE sync_items (
	workspace_id text NOT NULL,
	sync_id      text NOT NULL,
	key          text COLLATE "C" NOT NULL,
	kind         text NOT NULL,
	value        text NOT NULL,
	PRIMARY KEY (workspace_id, sync_id, key)
);
CREATE INDEX sync_items_ref ON sync_items (workspace_id, kind, value);
