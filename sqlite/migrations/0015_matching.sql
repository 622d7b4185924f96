-- Probabilistic matching: runs (parameters, progress and result as one JSON document, no
-- trait values) and the review queue (one row per pair of profiles, whatever its state, so
-- that a rejected pair is remembered).
CREATE TABLE match_runs (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	id           TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	document     TEXT NOT NULL,
	PRIMARY KEY (workspace_id, id)
);

CREATE TABLE match_reviews (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	pair_key     TEXT NOT NULL,
	run_id       TEXT NOT NULL,
	status       TEXT NOT NULL,
	profile_a    TEXT NOT NULL,
	profile_b    TEXT NOT NULL,
	document     TEXT NOT NULL,
	UNIQUE (workspace_id, pair_key)
);
CREATE INDEX match_reviews_status ON match_reviews (workspace_id, status, id);
CREATE INDEX match_reviews_a ON match_reviews (workspace_id, profile_a);
CREATE INDEX match_reviews_b ON match_reviews (workspace_id, profile_b);
