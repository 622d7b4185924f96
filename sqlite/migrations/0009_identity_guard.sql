-- The shared-value guard: identifiers presented by too many people stop identifying anyone.
-- Protect decisions are counted per identifier (a partial index: they are rare).
CREATE INDEX decisions_protected ON decisions (workspace_id, kind, value, profile_id) WHERE action = 'protect';
CREATE TABLE blocked_identifiers (
	workspace_id TEXT NOT NULL,
	kind         TEXT NOT NULL,
	value        TEXT NOT NULL,
	profiles     INTEGER NOT NULL,
	allowed      INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, kind, value)
);
