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
				var done, epoch int64
				if err := tx.QueryRow(ctx, `SELECT seq, epoch FROM positions WHERE consumer = $1 AND partition = $2 FOR UPDATE`,
					pos.Consumer, pos.Partition).Scan(&done, &epoch); err != nil {
					return fmt.Errorf("lock position: %w", err)
				}
				// A newer lease's holder claimed the partition: this writer lost its lease
				// (paused past it, or cut off from NATS) and must not write.
				if pos.Epoch > 0 && uint64(epoch) > pos.Epoch {
					return kenner.FencedError(pos, uint64(epoch))
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
			_, err := tx.Exec(ctx, `UPDATE positions SET seq = $3, epoch = GREATEST(epoch, $4) WHERE consumer = $1 AND partition = $2`,
				pos.Consumer, pos.Partition, int64(pos.Seq), int64(pos.Epoch))
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

// ClaimPosition implements kenner.EventStore: it waits for a batch the old holder is
// committing (the row lock), then holds the partition under epoch.
func (s *Store) ClaimPosition(ctx context.Context, consumer string, partition int, epoch uint64) (uint64, error) {
	var seq, held int64
	err := s.pool.QueryRow(ctx, `INSERT INTO positions (consumer, partition, seq, epoch) VALUES ($1, $2, 0, $3)
		ON CONFLICT (consumer, partition) DO UPDATE SET epoch = GREATEST(positions.epoch, excluded.epoch)
		RETURNING seq, epoch`, consumer, partition, int64(epoch)).Scan(&seq, &held)
	if err != nil {
		return 0, fmt.Errorf("claim position: %w", err)
	}
	if uint64(held) > epoch {
		return 0, kenner.FencedError(kenner.Position{Consumer: consumer, Partition: partition, Epoch: epoch}, uint64(held))
	}
	return uint64(seq), nil
}
