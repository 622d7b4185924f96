-- Journeys: the draft definition is one JSON document; every published version is kept,
-- because people stay on the version they entered.
CREATE TABLE journeys (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	status       TEXT NOT NULL,
	version      INTEGER NOT NULL DEFAULT 0,
	published_at INTEGER,
	document     TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE journey_versions (
	workspace_id TEXT NOT NULL,
	journey_id   TEXT NOT NULL,
	version      INTEGER NOT NULL,
	definition   TEXT NOT NULL,
	published_at INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, journey_id, version)
);

-- One row per person per run: where they are and their timer (the durable timer).
CREATE TABLE enrollments (
	workspace_id TEXT NOT NULL,
	journey_id   TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	run          INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	step         TEXT NOT NULL,
	state        TEXT NOT NULL,
	due_at       INTEGER,
	seq          INTEGER NOT NULL,
	control      INTEGER NOT NULL DEFAULT 0,
	converted    INTEGER NOT NULL DEFAULT 0,
	branch       TEXT NOT NULL DEFAULT '',
	entered_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	rev          INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, journey_id, run)
);
-- The timers: active enrollments by due time.
CREATE INDEX enrollments_due ON enrollments (due_at) WHERE state = 'active' AND due_at IS NOT NULL;
CREATE INDEX enrollments_journey ON enrollments (workspace_id, journey_id);

CREATE TABLE journey_path (
	workspace_id TEXT NOT NULL,
	journey_id   TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	run          INTEGER NOT NULL,
	seq          INTEGER NOT NULL,
	step         TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	at           INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, journey_id, run, seq)
);
CREATE INDEX journey_path_journey ON journey_path (workspace_id, journey_id);

CREATE TABLE journey_stats (
	workspace_id TEXT NOT NULL,
	journey_id   TEXT NOT NULL,
	step         TEXT NOT NULL,
	metric       TEXT NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, journey_id, step, metric)
);

-- Messages counted against frequency caps, per person and calendar day of their time zone.
CREATE TABLE journey_sends (
	workspace_id TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	day          TEXT NOT NULL,
	week         TEXT NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, day)
);

-- Reactions to journeys' emails (opened, clicked, unsubscribed), once per email and kind.
CREATE TABLE journey_reactions (
	workspace_id TEXT NOT NULL,
	email_key    TEXT NOT NULL,
	profile_id   TEXT NOT NULL,
	kind         TEXT NOT NULL,
	PRIMARY KEY (workspace_id, email_key, kind)
);
