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
			if err := fn(ctx, &batch{tx: tx}); err != nil {
				return err
			}
			if pos.Consumer == "" {
				return nil
			}
			_, err := tx.Exec(ctx, `INSERT INTO positions (consumer, partition, seq) VALUES ($1, $2, $3)
				ON CONFLICT (consumer, partition) DO UPDATE SET seq = GREATEST(positions.seq, excluded.seq)`,
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
