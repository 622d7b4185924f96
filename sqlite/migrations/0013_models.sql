-- Prediction models: a model's definition, state and current parameters are one JSON document;
-- every training is kept in model_versions.
CREATE TABLE models (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	document     TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE model_versions (
	workspace_id TEXT NOT NULL,
	model_id     TEXT NOT NULL,
	version      INTEGER NOT NULL,
	document     TEXT NOT NULL,
	PRIMARY KEY (workspace_id, model_id, version),
	FOREIGN KEY (workspace_id, model_id) REFERENCES models(workspace_id, id) ON DELETE CASCADE
);
