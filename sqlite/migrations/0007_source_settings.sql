-- Source settings (webhook mapping, tracking plan), and what tracking plans found: violation
-- counts and the quarantine of blocked events, whose bodies are sealed like stored events.
ALTER TABLE sources ADD COLUMN settings BLOB NOT NULL DEFAULT '{}';

CREATE TABLE violations (
	workspace_id TEXT NOT NULL,
	source_id    TEXT NOT NULL,
	event        TEXT NOT NULL,
	path         TEXT NOT NULL,
	message      TEXT NOT NULL,
	count        INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, source_id, event, path, message)
) WITHOUT ROWID;

CREATE TABLE quarantine (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL,
	source_id    TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	type         TEXT NOT NULL,
	event        TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	anonymous_id TEXT NOT NULL,
	violations   BLOB NOT NULL,
	body         BLOB NOT NULL,
	received_at  INTEGER NOT NULL
);
CREATE INDEX quarantine_source ON quarantine (workspace_id, source_id, id);
CREATE INDEX quarantine_user ON quarantine (workspace_id, user_id);
CREATE INDEX quarantine_anonymous ON quarantine (workspace_id, anonymous_id);
