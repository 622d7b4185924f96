-- Source settings (webhook mapping, tracking plan), and what tracking plans found: violation
-- counts and the quarantine of blocked events, whose bodies are sealed like stored events.
ALTER TABLE sources ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

CREATE TABLE violations (
	workspace_id text NOT NULL,
	source_id    text NOT NULL,
	event        text NOT NULL,
	path         text NOT NULL,
	message      text NOT NULL,
	count        bigint NOT NULL,
	first_seen   timestamptz NOT NULL,
	last_seen    timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, source_id, event, path, message)
);

CREATE TABLE quarantine (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL,
	source_id    text NOT NULL,
	message_id   text NOT NULL,
	type         text NOT NULL,
	event        text NOT NULL,
	user_id      text NOT NULL,
	anonymous_id text NOT NULL,
	violations   jsonb NOT NULL,
	body         bytea NOT NULL,
	received_at  timestamptz NOT NULL
);
CREATE INDEX quarantine_source ON quarantine (workspace_id, source_id, id);
CREATE INDEX quarantine_user ON quarantine (workspace_id, user_id);
CREATE INDEX quarantine_anonymous ON quarantine (workspace_id, anonymous_id);
