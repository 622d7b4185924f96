-- Journeys: the draft definition is one JSON document; every published version is kept,
-- because people stay on the version they entered.
CREATE TABLE journeys (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	name         text NOT NULL,
	status       text NOT NULL,
	version      bigint NOT NULL DEFAULT 0,
	published_at timestamptz,
	document     jsonb NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, id),
	UNIQUE (workspace_id, name)
);

CREATE TABLE journey_versions (
	workspace_id text NOT NULL,
	journey_id   text NOT NULL,
	version      bigint NOT NULL,
	definition   jsonb NOT NULL,
	published_at timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, journey_id, version)
);

-- One row per person per run: where they are and their timer (the durable timer).
CREATE TABLE enrollments (
	workspace_id text NOT NULL,
	journey_id   text NOT NULL,
	profile_id   text NOT NULL,
	run          bigint NOT NULL,
	version      bigint NOT NULL,
	step         text NOT NULL,
	state        text NOT NULL,
	due_at       timestamptz,
	seq          bigint NOT NULL,
	control      boolean NOT NULL DEFAULT false,
	converted    boolean NOT NULL DEFAULT false,
	branch       text NOT NULL DEFAULT '',
	entered_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	rev          bigint NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, journey_id, run)
);
-- The timers: active enrollments by due time.
CREATE INDEX enrollments_due ON enrollments (due_at) WHERE state = 'active' AND due_at IS NOT NULL;
CREATE INDEX enrollments_journey ON enrollments (workspace_id, journey_id);

CREATE TABLE journey_path (
	workspace_id text NOT NULL,
	journey_id   text NOT NULL,
	profile_id   text NOT NULL,
	run          bigint NOT NULL,
	seq          bigint NOT NULL,
	step         text NOT NULL,
	outcome      text NOT NULL,
	at           timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, journey_id, run, seq)
);
CREATE INDEX journey_path_journey ON journey_path (workspace_id, journey_id);

CREATE TABLE journey_stats (
	workspace_id text NOT NULL,
	journey_id   text NOT NULL,
	step         text NOT NULL,
	metric       text NOT NULL,
	n            bigint NOT NULL,
	PRIMARY KEY (workspace_id, journey_id, step, metric)
);

-- Messages counted against frequency caps, per person and calendar day of their time zone.
CREATE TABLE journey_sends (
	workspace_id text NOT NULL,
	profile_id   text NOT NULL,
	day          text NOT NULL,
	week         text NOT NULL,
	n            bigint NOT NULL,
	PRIMARY KEY (workspace_id, profile_id, day)
);

-- Reactions to journeys' emails (opened, clicked, unsubscribed), once per email and kind.
CREATE TABLE journey_reactions (
	workspace_id text NOT NULL,
	email_key    text NOT NULL,
	profile_id   text NOT NULL,
	kind         text NOT NULL,
	PRIMARY KEY (workspace_id, email_key, kind)
);
