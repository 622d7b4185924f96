package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kenner-cdp/kenner"
)

// Apply implements kenner.ProfileStore. Concurrent processors (several nodes) lock what they
// touch (see batch.LoadGraph); a deadlock or a lost race on a unique key rolls the transaction
// back and runs fn again on fresh data.
func (s *Store) Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error {
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if pos.Consumer != "" {
				// Nodes reading the same partition take turns on its position row, so each
				// sees what the other applied; a batch another node already applied is skipped.
				if _, err := tx.Exec(ctx, `INSERT INTO positions (consumer, partition, seq) VALUES ($1, $2, 0)
					ON CONFLICT DO NOTHING`, pos.Consumer, pos.Partition); err != nil {
					return fmt.Errorf("lock position: %w", err)
				}
				var done int64
				if err := tx.QueryRow(ctx, `SELECT seq FROM positions WHERE consumer = $1 AND partition = $2 FOR UPDATE`,
					pos.Consumer, pos.Partition).Scan(&done); err != nil {
					return fmt.Errorf("lock position: %w", err)
				}
				if uint64(done) >= pos.Seq {
					return nil
				}
			}
			b := &batch{tx: tx}
			if err := fn(ctx, b); err != nil {
				return err
			}
			if err := b.flushChanges(ctx); err != nil {
				return err
			}
			if pos.Consumer == "" {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE positions SET seq = $3 WHERE consumer = $1 AND partition = $2`,
				pos.Consumer, pos.Partition, int64(pos.Seq))
			if err != nil {
				return fmt.Errorf("save position: %w", err)
			}
			return nil
		})
		if err == nil || !retryable(err) || attempt >= 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// retryable reports errors that another transaction caused: deadlock, serialization failure,
// or a unique key that a concurrent transaction took first.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40P01", "40001", "23505":
		return true
	}
	return false
}
