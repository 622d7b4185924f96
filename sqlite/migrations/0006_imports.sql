-- Bulk imports: their reports, and the ledger of imported rows (16-byte keys) that makes a
-- second import of the same file a no-op.
CREATE TABLE imports (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL,
	id           TEXT NOT NULL,
	doc          BLOB NOT NULL,
	UNIQUE (workspace_id, id)
);

CREATE TABLE import_keys (
	workspace_id TEXT NOT NULL,
	key          BLOB NOT NULL,
	PRIMARY KEY (workspace_id, key)
) WITHOUT ROWID;
