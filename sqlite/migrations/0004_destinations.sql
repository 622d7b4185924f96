-- Destinations and their delivery queues. A delivery stays pending until it is delivered or
-- given up (dead); next_at is both the retry time and the claim lease, so a delivery a crashed
-- node had claimed becomes due again when its lease runs out.
CREATE TABLE destinations (
	workspace_id TEXT NOT NULL,
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	def          BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	UNIQUE (workspace_id, name)
);

CREATE TABLE deliveries (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	workspace_id   TEXT NOT NULL,
	destination_id TEXT NOT NULL,
	key            TEXT NOT NULL,
	order_key      TEXT NOT NULL,
	type           TEXT NOT NULL,
	payload        BLOB NOT NULL,
	status         TEXT NOT NULL,
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_at        INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	done_at        INTEGER,
	last_error     TEXT NOT NULL DEFAULT '',
	UNIQUE (destination_id, key)
);
-- The queue: pending deliveries by destination, in order per person.
CREATE INDEX deliveries_pending ON deliveries (destination_id, order_key, id) WHERE status = 'pending';
-- Claims walk a destination's pending deliveries in id order and stop at the limit.
CREATE INDEX deliveries_due ON deliveries (destination_id, id) WHERE status = 'pending';
CREATE INDEX deliveries_list ON deliveries (destination_id, status, id);
-- Retention: delivered ones are pruned by age.
CREATE INDEX deliveries_done ON deliveries (done_at) WHERE status = 'delivered';

CREATE TABLE delivery_attempts (
	delivery_id INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	latency_ms  REAL NOT NULL,
	error       TEXT NOT NULL,
	response    TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at);
