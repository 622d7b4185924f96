-- Destinations and their delivery queues. A delivery stays pending until it is delivered or
-- given up (dead); next_at is both the retry time and the claim lease, so a delivery a crashed
-- node had claimed becomes due again when its lease runs out.
CREATE TABLE destinations (
	workspace_id text NOT NULL,
	id           text PRIMARY KEY,
	name         text NOT NULL,
	def          bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	UNIQUE (workspace_id, name)
);

CREATE TABLE deliveries (
	id             bigserial PRIMARY KEY,
	workspace_id   text NOT NULL,
	destination_id text NOT NULL,
	key            text NOT NULL,
	order_key      text NOT NULL,
	type           text NOT NULL,
	payload        bytea NOT NULL,
	status         text NOT NULL,
	attempts       integer NOT NULL DEFAULT 0,
	next_at        timestamptz NOT NULL,
	created_at     timestamptz NOT NULL,
	done_at        timestamptz,
	last_error     text NOT NULL DEFAULT '',
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
	delivery_id bigint NOT NULL,
	at          timestamptz NOT NULL,
	status      integer NOT NULL,
	latency_ms  double precision NOT NULL,
	error       text NOT NULL,
	response    text NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at);
