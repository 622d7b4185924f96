-- Prediction models: a model's definition, state and current parameters are one JSON document;
-- every training is kept in model_versions.
CREATE TABLE models (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	name         text NOT NULL,
	document     jsonb NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE model_versions (
	workspace_id text NOT NULL,
	model_id     text NOT NULL,
	version      integer NOT NULL,
	document     jsonb NOT NULL,
	PRIMARY KEY (workspace_id, model_id, version),
	FOREIGN KEY (workspace_id, model_id) REFERENCES models(workspace_id, id) ON DELETE CASCADE
);
