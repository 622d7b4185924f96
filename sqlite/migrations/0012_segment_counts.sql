-- A segment's member count once a day (the latest of the day), for its trend.
CREATE TABLE segment_counts (
	workspace_id TEXT NOT NULL,
	segment_id   TEXT NOT NULL,
	day          TEXT NOT NULL,
	members      INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, segment_id, day)
) WITHOUT ROWID;
