-- A segment's member count once a day (the latest of the day), for its trend.
CREATE TABLE segment_counts (
	workspace_id text NOT NULL,
	segment_id   text NOT NULL,
	day          date NOT NULL,
	members      bigint NOT NULL,
	PRIMARY KEY (workspace_id, segment_id, day)
);
