package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

// CreateDestination implements kenner.DestinationStore.
func (s *Store) CreateDestination(ctx context.Context, d *kenner.Destination) error {
	if d.ID == "" {
		d.ID = kenner.NewID("dst")
	}
	n := now()
	d.CreatedAt, d.UpdatedAt = n, n
	def, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO destinations (workspace_id, id, name, def, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		d.WorkspaceID, d.ID, d.Name, def, n)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a destination named %q already exists", d.Name)
	}
	if err != nil {
		return fmt.Errorf("create destination: %w", err)
	}
	return nil
}

// UpdateDestination implements kenner.DestinationStore.
func (s *Store) UpdateDestination(ctx context.Context, d *kenner.Destination) error {
	d.UpdatedAt = now()
	def, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE destinations SET name = $1, def = $2, updated_at = $3 WHERE workspace_id = $4 AND id = $5`,
		d.Name, def, d.UpdatedAt, d.WorkspaceID, d.ID)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a destination named %q already exists", d.Name)
	}
	if err != nil {
		return fmt.Errorf("update destination: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "no destination %q", d.ID)
	}
	return nil
}

// DeleteDestination implements kenner.DestinationStore. Its queue and log go with it.
func (s *Store) DeleteDestination(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM destinations WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no destination %q", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE destination_id = $1)`, id); err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE destination_id = $1`, id); err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		return nil
	})
}

// Destination implements kenner.DestinationStore.
func (s *Store) Destination(ctx context.Context, ws, id string) (*kenner.Destination, error) {
	var def []byte
	err := s.pool.QueryRow(ctx, `SELECT def FROM destinations WHERE workspace_id = $1 AND id = $2`, ws, id).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no destination %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	d := &kenner.Destination{WorkspaceID: ws}
	if err := json.Unmarshal(def, d); err != nil {
		return nil, fmt.Errorf("destination %s: %w", id, err)
	}
	return d, nil
}

// Destinations implements kenner.DestinationStore.
func (s *Store) Destinations(ctx context.Context, ws string) ([]kenner.Destination, error) {
	rows, err := s.pool.Query(ctx, `SELECT workspace_id, def FROM destinations WHERE $1 = '' OR workspace_id = $1 ORDER BY name, id`, ws)
	if err != nil {
		return nil, fmt.Errorf("destinations: %w", err)
	}
	defer rows.Close()
	var out []kenner.Destination
	for rows.Next() {
		var d kenner.Destination
		var def []byte
		if err := rows.Scan(&d.WorkspaceID, &def); err != nil {
			return nil, fmt.Errorf("destinations: %w", err)
		}
		if err := json.Unmarshal(def, &d); err != nil {
			return nil, fmt.Errorf("destinations: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Enqueue implements kenner.DeliveryBatch.
func (b *batch) Enqueue(ctx context.Context, ds []kenner.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	pb := &pgx.Batch{}
	for _, d := range ds {
		pb.Queue(`INSERT INTO deliveries (workspace_id, destination_id, key, order_key, type, payload, status, next_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) ON CONFLICT (destination_id, key) DO NOTHING`,
			d.WorkspaceID, d.DestinationID, d.Key, d.OrderKey, d.Type, []byte(d.Payload), d.NextAt, d.CreatedAt)
	}
	if err := b.tx.SendBatch(ctx, pb).Close(); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

const deliveryColumns = `id, workspace_id, destination_id, key, order_key, type, payload, status, attempts, next_at, created_at, done_at, last_error`

func scanDeliveries(rows pgx.Rows) ([]kenner.Delivery, error) {
	defer rows.Close()
	var out []kenner.Delivery
	for rows.Next() {
		var d kenner.Delivery
		var done *time.Time
		var payload []byte
		if err := rows.Scan(&d.ID, &d.WorkspaceID, &d.DestinationID, &d.Key, &d.OrderKey, &d.Type, &payload, &d.Status,
			&d.Attempts, &d.NextAt, &d.CreatedAt, &done, &d.LastError); err != nil {
			return nil, fmt.Errorf("deliveries: %w", err)
		}
		d.Payload, d.NextAt, d.CreatedAt = payload, d.NextAt.UTC(), d.CreatedAt.UTC()
		if done != nil {
			d.DoneAt = done.UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements kenner.DestinationStore. SKIP LOCKED lets nodes claim from one
// queue at once; the order check reads every pending row of a person, claimed or not, so a
// person's later deliveries wait while an earlier one is out.
func (s *Store) ClaimDeliveries(ctx context.Context, dest string, at, lease time.Time, limit int) ([]kenner.Delivery, error) {
	rows, err := s.pool.Query(ctx, `UPDATE deliveries SET next_at = $3 WHERE id IN (
			SELECT id FROM deliveries d WHERE destination_id = $1 AND status = 'pending' AND next_at <= $2
			AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.destination_id = d.destination_id AND e.status = 'pending'
				AND e.order_key = d.order_key AND e.id < d.id)
			ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, dest, at, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// RETURNING gives no order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// Settle implements kenner.DestinationStore.
func (s *Store) Settle(ctx context.Context, outcomes []kenner.Outcome) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		pb := &pgx.Batch{}
		for _, o := range outcomes {
			a := o.Attempt
			var done *time.Time
			if o.Status != kenner.DeliveryPending {
				done = &a.At
			}
			pb.Queue(`UPDATE deliveries SET status = $1, attempts = attempts + 1, next_at = $2, done_at = $3, last_error = $4
				WHERE id = $5 AND status = 'pending'`, o.Status, o.NextAt, done, a.Error, o.DeliveryID)
			pb.Queue(`INSERT INTO delivery_attempts (delivery_id, at, status, latency_ms, error, response) VALUES ($1, $2, $3, $4, $5, $6)`,
				o.DeliveryID, a.At, a.Status, a.LatencyMS, a.Error, a.Response)
		}
		return tx.SendBatch(ctx, pb).Close()
	})
	if err != nil {
		return fmt.Errorf("settle deliveries: %w", err)
	}
	return nil
}

// Deliveries implements kenner.DestinationStore.
func (s *Store) Deliveries(ctx context.Context, f kenner.DeliveryFilter) ([]kenner.Delivery, error) {
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE workspace_id = $1 AND ($2 = '' OR destination_id = $2)
		AND ($3 = '' OR status = $3) AND id < $4 AND (coalesce(cardinality($6::text[]), 0) = 0 OR order_key = ANY($6))
		ORDER BY id DESC LIMIT $5`, f.WorkspaceID, f.DestinationID, f.Status, before, f.Limit, f.OrderKeys)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// Delivery implements kenner.DestinationStore.
func (s *Store) Delivery(ctx context.Context, ws string, id int64) (*kenner.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, kenner.Errorf(kenner.ENotFound, "no delivery %d", id)
	}
	return &ds[0], nil
}

// Attempts implements kenner.DestinationStore.
func (s *Store) Attempts(ctx context.Context, id int64) ([]kenner.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT delivery_id, at, status, latency_ms, error, response FROM delivery_attempts
		WHERE delivery_id = $1 ORDER BY at, ctid`, id)
	if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	defer rows.Close()
	var out []kenner.Attempt
	for rows.Next() {
		var a kenner.Attempt
		if err := rows.Scan(&a.DeliveryID, &a.At, &a.Status, &a.LatencyMS, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("attempts: %w", err)
		}
		a.At = a.At.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Requeue implements kenner.DestinationStore.
func (s *Store) Requeue(ctx context.Context, ws, dest string, ids []int64) (int, error) {
	if ids == nil {
		ids = []int64{} // NULL would match nothing
	}
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = $1, done_at = NULL
		WHERE workspace_id = $2 AND destination_id = $3 AND status = 'dead' AND (cardinality($4::bigint[]) = 0 OR id = ANY($4))`,
		now(), ws, dest, ids)
	if err != nil {
		return 0, fmt.Errorf("requeue deliveries: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// QueueDepth implements kenner.DestinationStore.
func (s *Store) QueueDepth(ctx context.Context, dest string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE destination_id = $1 AND status = 'pending'`, dest).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// PruneDeliveries implements kenner.DestinationStore.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM deliveries WHERE status = 'delivered' AND done_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id`, before, limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = int64(len(ids))
		_, err = tx.Exec(ctx, `DELETE FROM delivery_attempts WHERE delivery_id = ANY($1)`, ids)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}
