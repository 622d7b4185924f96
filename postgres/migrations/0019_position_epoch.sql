-- The fencing token of the lease under which a partition's position was last claimed or
-- written (scale-out): writes under an older one are refused.
ALTER TABLE positions ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
