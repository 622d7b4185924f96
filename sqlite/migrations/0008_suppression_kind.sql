-- The kind of each suppressed identifier, so that the list can be shown and lifted by kind
-- and value (the value itself is never kept).
ALTER TABLE suppressions ADD COLUMN kind TEXT NOT NULL DEFAULT '';
CREATE INDEX suppressions_workspace ON suppressions (workspace_id, seq);
