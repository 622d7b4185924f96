package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// appendRequest is one AppendEvents call waiting for the group commit.
type appendRequest struct {
	pos    kenner.Position
	events []kenner.Event
	added  int
	err    error
	done   chan struct{}
}

// AppendEvents implements kenner.EventStore. SQLite has a single writer and a commit costs far
// more than a row, so concurrent calls (one per log partition) are committed together: the
// first caller to find no commit running runs one for everything queued.
func (s *Store) AppendEvents(ctx context.Context, pos kenner.Position, events []kenner.Event) (int, error) {
	req := &appendRequest{pos: pos, events: events, done: make(chan struct{})}
	s.appendMu.Lock()
	s.appendQueue = append(s.appendQueue, req)
	s.appendMu.Unlock()
	select {
	case s.commitSlot <- struct{}{}:
		// Leader: commit rounds until the queue is empty, so nothing queued waits for a
		// caller that has already returned.
		for {
			s.appendMu.Lock()
			round := s.appendQueue
			s.appendQueue = nil
			s.appendMu.Unlock()
			if len(round) == 0 {
				break
			}
			s.commitAppends(context.WithoutCancel(ctx), round)
		}
		<-s.commitSlot
	case <-req.done:
	}
	<-req.done
	return req.added, req.err
}

func (s *Store) commitAppends(ctx context.Context, round []*appendRequest) {
	err := s.appendTx(ctx, round)
	for _, r := range round {
		if err != nil {
			r.added, r.err = 0, err
		}
		close(r.done)
	}
}

func (s *Store) appendTx(ctx context.Context, round []*appendRequest) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	defer tx.Rollback()
	// A replayed record conflicts on its place in the log and changes nothing. A message id seen
	// before conflicts on (workspace, message_id): the copy earliest in the log is kept, whatever
	// order the partitions are processed in, so a replay always ends in the same state.
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events
		(id, workspace_id, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING
		ON CONFLICT (workspace_id, message_id) DO UPDATE SET
			id = excluded.id, source_id = excluded.source_id, type = excluded.type, name = excluded.name,
			user_id = excluded.user_id, anonymous_id = excluded.anonymous_id, ts = excluded.ts, received_at = excluded.received_at, body = excluded.body
		WHERE excluded.id < events.id`)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	defer stmt.Close()
	for _, r := range round {
		r.added = 0
		for i := range r.events {
			e := &r.events[i]
			res, err := stmt.ExecContext(ctx, eventID(e.Seq, e.Index), e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Name,
				e.UserID, e.AnonymousID, millis(e.Timestamp), millis(e.ReceivedAt), []byte(e.Body))
			if err != nil {
				return fmt.Errorf("append event %s: %w", e.MessageID, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				r.added++
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO positions (consumer, partition, seq) VALUES (?, ?, ?)
			ON CONFLICT (consumer, partition) DO UPDATE SET seq = max(seq, excluded.seq)`,
			r.pos.Consumer, r.pos.Partition, int64(r.pos.Seq)); err != nil {
			return fmt.Errorf("save position: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append events: %w", err)
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

// Events implements kenner.EventStore.
func (s *Store) Events(ctx context.Context, f kenner.EventFilter) ([]kenner.Event, string, error) {
	where := []string{"workspace_id = ?"}
	args := []any{f.WorkspaceID}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.AnonymousID != "" {
		where = append(where, "anonymous_id = ?")
		args = append(args, f.AnonymousID)
	}
	if f.MessageID != "" {
		where = append(where, "message_id = ?")
		args = append(args, f.MessageID)
	}
	if f.After != nil {
		where = append(where, "id < ?")
		args = append(args, eventID(f.After.Seq, f.After.Index))
	}
	limit := kenner.PageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, `SELECT workspace_id, id, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body
		FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []kenner.Event
	for rows.Next() {
		var e kenner.Event
		var id, ts, recv int64
		var body []byte
		if err := rows.Scan(&e.WorkspaceID, &id, &e.SourceID, &e.MessageID, &e.Type, &e.Name,
			&e.UserID, &e.AnonymousID, &ts, &recv, &body); err != nil {
			return nil, "", fmt.Errorf("list events: %w", err)
		}
		e.Seq, e.Index = uint64(id)>>16, int(id&0xffff)
		e.Timestamp, e.ReceivedAt, e.Body = fromMillis(ts), fromMillis(recv), body
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, next := kenner.PageEvents(out, limit)
	return out, next, nil
}

// eventID packs an event's place in the log into the table's integer key.
func eventID(seq uint64, idx int) int64 { return int64(seq<<16 | uint64(idx&0xffff)) }

// ResetDerived implements kenner.EventStore.
func (s *Store) ResetDerived(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM events; DELETE FROM positions;`); err != nil {
		return fmt.Errorf("reset derived state: %w", err)
	}
	return nil
}
