-- Console users (email + password, a role like API tokens) and their sessions, kept as keyed
-- hashes of the cookie's secret.
CREATE TABLE users (
	id            text PRIMARY KEY,
	workspace_id  text NOT NULL REFERENCES workspaces(id),
	email         text NOT NULL UNIQUE,
	name          text NOT NULL,
	role          text NOT NULL,
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
CREATE TABLE sessions (
	hash         text PRIMARY KEY,
	user_id      text NOT NULL,
	workspace_id text NOT NULL,
	csrf         text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
