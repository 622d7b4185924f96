-- Console users (email + password, a role like API tokens) and their sessions, kept as keyed
-- hashes of the cookie's secret.
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE TABLE sessions (
	hash         TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	workspace_id TEXT NOT NULL,
	csrf         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
