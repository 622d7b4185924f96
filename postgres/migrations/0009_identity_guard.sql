-- The shared-value guard: identifiers presented by too many people stop identifying anyone.
-- Protect decisions are counted per identifier (a partial index: they are rare).
CREATE INDEX decisions_protected ON decisions (workspace_id, kind, value, profile_id) WHERE action = 'protect';
CREATE TABLE blocked_identifiers (
	workspace_id text NOT NULL,
	kind         text NOT NULL,
	value        text NOT NULL,
	profiles     integer NOT NULL,
	allowed      boolean NOT NULL DEFAULT false,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (workspace_id, kind, value)
);
