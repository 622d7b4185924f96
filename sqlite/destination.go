package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// CreateDestination implements kenner.DestinationStore.
func (s *Store) CreateDestination(ctx context.Context, d *kenner.Destination) error {
	if d.ID == "" {
		d.ID = kenner.NewID("dst")
	}
	now := time.Now().UTC()
	d.CreatedAt, d.UpdatedAt = now, now
	def, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO destinations (workspace_id, id, name, def, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.WorkspaceID, d.ID, d.Name, def, millis(now), millis(now))
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
	d.UpdatedAt = time.Now().UTC()
	def, err := json.Marshal(d)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE destinations SET name = ?, def = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
		d.Name, def, millis(d.UpdatedAt), d.WorkspaceID, d.ID)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a destination named %q already exists", d.Name)
	}
	if err != nil {
		return fmt.Errorf("update destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no destination %q", d.ID)
	}
	return nil
}

// DeleteDestination implements kenner.DestinationStore. Its queue and log go with it.
func (s *Store) DeleteDestination(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM destinations WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no destination %q", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE destination_id = ?)`, id); err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE destination_id = ?`, id); err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		return nil
	})
}

// Destination implements kenner.DestinationStore.
func (s *Store) Destination(ctx context.Context, ws, id string) (*kenner.Destination, error) {
	var def []byte
	err := s.r.QueryRowContext(ctx, `SELECT def FROM destinations WHERE workspace_id = ? AND id = ?`, ws, id).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT workspace_id, def FROM destinations WHERE ? = '' OR workspace_id = ? ORDER BY name, id`, ws, ws)
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
	for _, d := range ds {
		if _, err := b.exec(ctx, `INSERT INTO deliveries (workspace_id, destination_id, key, order_key, type, payload, status, next_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (destination_id, key) DO NOTHING`,
			d.WorkspaceID, d.DestinationID, d.Key, d.OrderKey, d.Type, []byte(d.Payload), millis(d.NextAt), millis(d.CreatedAt)); err != nil {
			return fmt.Errorf("enqueue delivery: %w", err)
		}
	}
	return nil
}

const deliveryColumns = `id, workspace_id, destination_id, key, order_key, type, payload, status, attempts, next_at, created_at, done_at, last_error`

func scanDeliveries(rows *sql.Rows) ([]kenner.Delivery, error) {
	defer rows.Close()
	var out []kenner.Delivery
	for rows.Next() {
		var d kenner.Delivery
		var next, created int64
		var done sql.NullInt64
		var payload []byte
		if err := rows.Scan(&d.ID, &d.WorkspaceID, &d.DestinationID, &d.Key, &d.OrderKey, &d.Type, &payload, &d.Status,
			&d.Attempts, &next, &created, &done, &d.LastError); err != nil {
			return nil, fmt.Errorf("deliveries: %w", err)
		}
		d.Payload, d.NextAt, d.CreatedAt = payload, fromMillis(next), fromMillis(created)
		if done.Valid {
			d.DoneAt = fromMillis(done.Int64)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements kenner.DestinationStore.
func (s *Store) ClaimDeliveries(ctx context.Context, dest string, now, lease time.Time, limit int) ([]kenner.Delivery, error) {
	var out []kenner.Delivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The head of each person's queue, when it is due: a claimed or backing-off head keeps
		// that person's later deliveries waiting, which is what keeps them in order.
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
			WHERE destination_id = ? AND status = 'pending' AND next_at <= ?
			AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.destination_id = d.destination_id AND e.status = 'pending'
				AND e.order_key = d.order_key AND e.id < d.id)
			ORDER BY id LIMIT ?`, dest, millis(now), limit)
		if err != nil {
			return err
		}
		if out, err = scanDeliveries(rows); err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_at = ? WHERE id = ?`, millis(lease), out[i].ID); err != nil {
				return err
			}
			out[i].NextAt = lease
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// Settle implements kenner.DestinationStore.
func (s *Store) Settle(ctx context.Context, outcomes []kenner.Outcome) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, o := range outcomes {
			a := o.Attempt
			var done any
			if o.Status != kenner.DeliveryPending {
				done = millis(a.At)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, attempts = attempts + 1, next_at = ?, done_at = ?, last_error = ?
				WHERE id = ? AND status = 'pending'`, o.Status, millis(o.NextAt), done, a.Error, o.DeliveryID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_attempts (delivery_id, at, status, latency_ms, error, response) VALUES (?, ?, ?, ?, ?, ?)`,
				o.DeliveryID, millis(a.At), a.Status, a.LatencyMS, a.Error, a.Response); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle deliveries: %w", err)
	}
	return nil
}

// Deliveries implements kenner.DestinationStore.
func (s *Store) Deliveries(ctx context.Context, f kenner.DeliveryFilter) ([]kenner.Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE workspace_id = ?`
	args := []any{f.WorkspaceID}
	if f.DestinationID != "" {
		q += ` AND destination_id = ?`
		args = append(args, f.DestinationID)
	}
	if len(f.OrderKeys) > 0 {
		q += ` AND order_key IN ` + in(len(f.OrderKeys))
		for _, k := range f.OrderKeys {
			args = append(args, k)
		}
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// Delivery implements kenner.DestinationStore.
func (s *Store) Delivery(ctx context.Context, ws string, id int64) (*kenner.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE workspace_id = ? AND id = ?`, ws, id)
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
	rows, err := s.r.QueryContext(ctx, `SELECT delivery_id, at, status, latency_ms, error, response FROM delivery_attempts
		WHERE delivery_id = ? ORDER BY at, rowid`, id)
	if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	defer rows.Close()
	var out []kenner.Attempt
	for rows.Next() {
		var a kenner.Attempt
		var at int64
		if err := rows.Scan(&a.DeliveryID, &at, &a.Status, &a.LatencyMS, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("attempts: %w", err)
		}
		a.At = fromMillis(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Requeue implements kenner.DestinationStore.
func (s *Store) Requeue(ctx context.Context, ws, dest string, ids []int64) (int, error) {
	q := `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ?, done_at = NULL
		WHERE workspace_id = ? AND destination_id = ? AND status = 'dead'`
	args := []any{millis(time.Now()), ws, dest}
	if len(ids) > 0 {
		q += ` AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("requeue deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// QueueDepth implements kenner.DestinationStore.
func (s *Store) QueueDepth(ctx context.Context, dest string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE destination_id = ? AND status = 'pending'`, dest).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// PruneDeliveries implements kenner.DestinationStore.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids := `SELECT id FROM deliveries WHERE status = 'delivered' AND done_at < ? LIMIT ?`
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE delivery_id IN (`+ids+`)`, millis(before), limit); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id IN (`+ids+`)`, millis(before), limit)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}
