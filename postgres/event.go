package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

// AppendEvents implements kenner.EventStore with one multi-row insert. Concurrent processors
// racing on a message id are serialized by the unique index; the copy earliest in the log is
// kept (see the SQLite store). events must not repeat a message id (EventStore's contract).
func (s *Store) AppendEvents(ctx context.Context, pos kenner.Position, events []kenner.Event) (int, error) {
	n := len(events)
	ws, src, msg, typ, name, user, anon := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seq, idx := make([]int64, n), make([]int32, n)
	ts, recv := make([]time.Time, n), make([]time.Time, n)
	body := make([][]byte, n)
	for i, e := range events {
		ws[i], src[i], msg[i], typ[i], name[i], user[i], anon[i] = e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Name, e.UserID, e.AnonymousID
		seq[i], idx[i], ts[i], recv[i], body[i] = int64(e.Seq), int32(e.Index), e.Timestamp.UTC(), e.ReceivedAt.UTC(), e.Body
	}
	added := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if n > 0 {
			tag, err := tx.Exec(ctx, `INSERT INTO events
				(workspace_id, seq, idx, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body)
				SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
					$9::text[], $10::timestamptz[], $11::timestamptz[], $12::bytea[])
				ON CONFLICT (workspace_id, message_id) DO UPDATE SET
					seq = excluded.seq, idx = excluded.idx, source_id = excluded.source_id, type = excluded.type, name = excluded.name,
					user_id = excluded.user_id, anonymous_id = excluded.anonymous_id, ts = excluded.ts, received_at = excluded.received_at, body = excluded.body
				WHERE (excluded.seq, excluded.idx) < (events.seq, events.idx)`, ws, seq, idx, src, msg, typ, name, user, anon, ts, recv, body)
			if err != nil {
				return fmt.Errorf("append events: %w", err)
			}
			added = int(tag.RowsAffected())
		}
		_, err := tx.Exec(ctx, `INSERT INTO positions (consumer, partition, seq) VALUES ($1, $2, $3)
			ON CONFLICT (consumer, partition) DO UPDATE SET seq = GREATEST(positions.seq, excluded.seq)`,
			pos.Consumer, pos.Partition, int64(pos.Seq))
		if err != nil {
			return fmt.Errorf("save position: %w", err)
		}
		return nil
	})
	return added, err
}

// Position implements kenner.EventStore.
func (s *Store) Position(ctx context.Context, consumer string, partition int) (uint64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM positions WHERE consumer = $1 AND partition = $2`, consumer, partition).Scan(&seq)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read position: %w", err)
	}
	return uint64(seq), nil
}

// Events implements kenner.EventStore.
func (s *Store) Events(ctx context.Context, f kenner.EventFilter) ([]kenner.Event, string, error) {
	where := []string{"workspace_id = $1"}
	args := []any{f.WorkspaceID}
	eq := func(col, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	eq("user_id", f.UserID)
	eq("anonymous_id", f.AnonymousID)
	eq("message_id", f.MessageID)
	if f.After != nil {
		args = append(args, int64(f.After.Seq), int32(f.After.Index))
		where = append(where, fmt.Sprintf("(seq, idx) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit := kenner.PageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT workspace_id, seq, idx, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body
		FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC, idx DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Event, error) {
		var e kenner.Event
		var seq int64
		var idx int32
		err := r.Scan(&e.WorkspaceID, &seq, &idx, &e.SourceID, &e.MessageID, &e.Type, &e.Name, &e.UserID, &e.AnonymousID, &e.Timestamp, &e.ReceivedAt, &e.Body)
		e.Seq, e.Index, e.Timestamp, e.ReceivedAt = uint64(seq), int(idx), utc(e.Timestamp), utc(e.ReceivedAt)
		return e, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, next := kenner.PageEvents(out, limit)
	return out, next, nil
}

// ResetDerived implements kenner.EventStore.
func (s *Store) ResetDerived(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `TRUNCATE events, positions`); err != nil {
		return fmt.Errorf("reset derived state: %w", err)
	}
	return nil
}
