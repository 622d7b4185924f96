package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// applyRequest is one Apply call waiting for the group commit.
type applyRequest struct {
	ctx  context.Context
	pos  kenner.Position
	fn   kenner.ApplyFunc
	err  error
	done chan struct{}
}

// Apply implements kenner.ProfileStore. SQLite has a single writer and a commit costs far more
// than a row, so concurrent calls (one per log partition) share one transaction: the first
// caller to find no commit running runs one for everything queued; a call that fails rolls
// back alone (commitRound).
func (s *Store) Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error {
	req := &applyRequest{ctx: ctx, pos: pos, fn: fn, done: make(chan struct{})}
	s.applies.Do(req, req.done)
	return req.err
}

func (s *Store) commitRound(round []*applyRequest) {
	// Calls run without savepoints: a savepoint makes SQLite copy every page it changes to a
	// sub-journal, which cost a tenth of the processor's time. A call that fails is rare (a
	// cancelled context, a bug), so the round is rolled back and run again without it.
	for len(round) > 0 {
		failed, err := s.applyTx(round)
		if failed < 0 {
			for _, r := range round {
				if err != nil && r.err == nil {
					r.err = err
				}
				close(r.done)
			}
			return
		}
		close(round[failed].done)
		round = append(round[:failed:failed], round[failed+1:]...)
		for _, r := range round {
			r.err = nil
		}
	}
}

// applyTx runs round in one transaction. When a call fails it stops and returns that call's
// index with its error set, having rolled everything back; otherwise it returns -1 and the
// commit's error.
func (s *Store) applyTx(round []*applyRequest) (int, error) {
	ctx := context.Background() // the round outlives any one caller's context
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	b := &batch{s: s, tx: tx}
	for i, r := range round {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return i, nil
		}
		if r.pos.Consumer != "" {
			// A batch at or before the stored position was applied already (kenner.ProfileStore).
			var done, epoch int64
			err := b.queryRow(ctx, `SELECT seq, epoch FROM positions WHERE consumer = ? AND partition = ?`, r.pos.Consumer, r.pos.Partition).Scan(&done, &epoch)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return -1, fmt.Errorf("apply: %w", err)
			}
			if err == nil && r.pos.Epoch > 0 && uint64(epoch) > r.pos.Epoch {
				r.err = kenner.FencedError(r.pos, uint64(epoch))
				return i, nil
			}
			if err == nil && uint64(done) >= r.pos.Seq {
				continue
			}
		}
		r.err = r.fn(r.ctx, b)
		if r.err == nil && r.pos.Consumer != "" {
			_, err := b.exec(ctx, `INSERT INTO positions (consumer, partition, seq, epoch) VALUES (?, ?, ?, ?)
				ON CONFLICT (consumer, partition) DO UPDATE SET seq = max(seq, excluded.seq), epoch = max(epoch, excluded.epoch)`,
				r.pos.Consumer, r.pos.Partition, int64(r.pos.Seq), int64(r.pos.Epoch))
			if err != nil {
				r.err = fmt.Errorf("save position: %w", err)
			}
		}
		if r.err != nil {
			return i, nil
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("apply: %w", err)
	}
	return -1, nil
}

// Position implements kenner.EventStore.
func (s *Store) Position(ctx context.Context, consumer string, partition int) (uint64, error) {
	var seq int64
	err := s.w.QueryRowContext(ctx, `SELECT seq FROM positions WHERE consumer = ? AND partition = ?`, consumer, partition).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read position: %w", err)
	}
	return uint64(seq), nil
}

// ClaimPosition implements kenner.EventStore.
func (s *Store) ClaimPosition(ctx context.Context, consumer string, partition int, epoch uint64) (uint64, error) {
	var seq, held int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO positions (consumer, partition, seq, epoch) VALUES (?, ?, 0, ?)
			ON CONFLICT (consumer, partition) DO UPDATE SET epoch = max(epoch, excluded.epoch)`, consumer, partition, int64(epoch)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT seq, epoch FROM positions WHERE consumer = ? AND partition = ?`, consumer, partition).Scan(&seq, &held)
	})
	if err != nil {
		return 0, fmt.Errorf("claim position: %w", err)
	}
	if uint64(held) > epoch {
		return 0, kenner.FencedError(kenner.Position{Consumer: consumer, Partition: partition, Epoch: epoch}, uint64(held))
	}
	return uint64(seq), nil
}
