-- Personalization slots: a slot's variants, default, holdout and personal flag are one JSON
-- document (definition), read whole by the decision API.
CREATE TABLE slots (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	name         text NOT NULL,
	definition   jsonb NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);
