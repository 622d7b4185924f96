-- Bulk imports: their reports, and the ledger of imported rows (16-byte keys) that makes a
-- second import of the same file a no-op.
CREATE TABLE imports (
	seq          bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	id           text NOT NULL,
	doc          jsonb NOT NULL,
	UNIQUE (workspace_id, id)
);

CREATE TABLE import_keys (
	workspace_id text NOT NULL,
	key          bytea NOT NULL,
	PRIMARY KEY (workspace_id, key)
);
