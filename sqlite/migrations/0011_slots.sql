-- Personalization slots: a slot's variants, default, holdout and personal flag are one JSON
-- document (definition), read whole by the decision API.
CREATE TABLE slots (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	definition   TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);
