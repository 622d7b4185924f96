-- Analytics reports saved for the dashboard: a kind and its settings (configuration).
CREATE TABLE saved_reports (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	name         text NOT NULL,
	kind         text NOT NULL,
	query        text NOT NULL,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL,
	seq          bigserial,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);
