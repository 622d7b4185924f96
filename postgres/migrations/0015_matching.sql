-- Probabilistic matching: runs (parameters, progress and result as one JSON document, no
-- trait values) and the review queue (one row per pair of profiles, whatever its state, so
-- that a rejected pair is remembered).
CREATE TABLE match_runs (
	workspace_id text NOT NULL REFERENCES workspaces(id),
	id           text NOT NULL,
	created_at   timestamptz NOT NULL,
	document     jsonb NOT NULL,
	PRIMARY KEY (workspace_id, id)
);

CREATE TABLE match_reviews (
	id           bigserial PRIMARY KEY,
	workspace_id text NOT NULL REFERENCES workspaces(id),
	pair_key     text NOT NULL,
	run_id       text NOT NULL,
	status       text NOT NULL,
	profile_a    text NOT NULL,
	profile_b    text NOT NULL,
	document     jsonb NOT NULL,
	UNIQUE (workspace_id, pair_key)
);
CREATE INDEX match_reviews_status ON match_reviews (workspace_id, status, id);
CREATE INDEX match_reviews_a ON match_reviews (workspace_id, profile_a);
CREATE INDEX match_reviews_b ON match_reviews (workspace_id, profile_b);
