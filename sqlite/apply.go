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
// caller to find no commit running runs one for everything queued, each call's work inside its
// own savepoint so that one failing call rolls back alone.
func (s *Store) Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error {
	req := &applyRequest{ctx: ctx, pos: pos, fn: fn, done: make(chan struct{})}
	s.applyMu.Lock()
	s.applyQueue = append(s.applyQueue, req)
	s.applyMu.Unlock()
	select {
	case s.commitSlot <- struct{}{}:
		// Leader: commit rounds until the queue is empty, so nothing queued waits for a
		// caller that has already returned.
		for {
			s.applyMu.Lock()
			round := s.applyQueue
			s.applyQueue = nil
			s.applyMu.Unlock()
			if len(round) == 0 {
				break
			}
			s.commitRound(round)
		}
		<-s.commitSlot
	case <-req.done:
	}
	<-req.done
	return req.err
}

func (s *Store) commitRound(round []*applyRequest) {
	err := s.applyTx(round)
	for _, r := range round {
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

func (s *Store) applyTx(round []*applyRequest) error {
	ctx := context.Background() // the round outlives any one caller's context
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	b := &batch{s: s, tx: tx}
	for _, r := range round {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if r.pos.Consumer != "" {
			// A batch at or before the stored position was applied already (kenner.ProfileStore).
			var done int64
			err := b.queryRow(ctx, `SELECT seq FROM positions WHERE consumer = ? AND partition = ?`, r.pos.Consumer, r.pos.Partition).Scan(&done)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("apply: %w", err)
			}
			if err == nil && uint64(done) >= r.pos.Seq {
				continue
			}
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT apply`); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		r.err = r.fn(r.ctx, b)
		if r.err == nil && r.pos.Consumer != "" {
			_, err := tx.ExecContext(ctx, `INSERT INTO positions (consumer, partition, seq) VALUES (?, ?, ?)
				ON CONFLICT (consumer, partition) DO UPDATE SET seq = max(seq, excluded.seq)`,
				r.pos.Consumer, r.pos.Partition, int64(r.pos.Seq))
			if err != nil {
				r.err = fmt.Errorf("save position: %w", err)
			}
		}
		if r.err != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO apply`); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE apply`); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
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
