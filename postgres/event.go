package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

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

const eventColumns = `workspace_id, seq, idx, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, profile_id`

func collectEvents(rows pgx.Rows) ([]kenner.Event, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Event, error) {
		var e kenner.Event
		var seq int64
		var idx int32
		err := r.Scan(&e.WorkspaceID, &seq, &idx, &e.SourceID, &e.MessageID, &e.Type, &e.Name, &e.UserID, &e.AnonymousID,
			&e.Timestamp, &e.ReceivedAt, &e.Body, &e.ProfileID)
		e.Seq, e.Index, e.Timestamp, e.ReceivedAt = uint64(seq), int(idx), utc(e.Timestamp), utc(e.ReceivedAt)
		return e, err
	})
}

// Events implements kenner.EventStore. As in the SQLite store, user_id and anonymous_id
// filters go through the identity graph to the profile's timeline.
func (s *Store) Events(ctx context.Context, f kenner.EventFilter) ([]kenner.Event, string, error) {
	where := []string{"workspace_id = $1"}
	args := []any{f.WorkspaceID}
	eq := func(col, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	profile := f.ProfileID
	for _, c := range []struct{ kind, value string }{{kenner.KindUserID, f.UserID}, {kenner.KindAnonymousID, f.AnonymousID}} {
		if c.value == "" || profile != "" {
			continue
		}
		err := s.pool.QueryRow(ctx, `SELECT profile_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3`,
			f.WorkspaceID, c.kind, c.value).Scan(&profile)
		if err != nil && err != pgx.ErrNoRows {
			return nil, "", fmt.Errorf("list events: %w", err)
		}
	}
	if profile != "" {
		where = append(where, "profile_id <> ''")
	}
	eq("profile_id", profile)
	eq("user_id", f.UserID)
	eq("anonymous_id", f.AnonymousID)
	eq("message_id", f.MessageID)
	eq("type", f.Type)
	eq("name", f.Name)
	if f.After != nil {
		args = append(args, int64(f.After.Seq), int32(f.After.Index))
		where = append(where, fmt.Sprintf("(seq, idx) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit := kenner.PageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+`
		FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC, idx DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, err := collectEvents(rows)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, next := kenner.PageEvents(out, limit)
	return out, next, nil
}

// ResetDerived implements kenner.EventStore. Activation's and the changes relay's positions
// stay: what they read is unchanged, and what they passed on was received.
func (s *Store) ResetDerived(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `TRUNCATE events, profiles, identities, decisions, segment_members, segment_history;
		DELETE FROM positions WHERE consumer NOT LIKE 'activation%' AND consumer NOT LIKE 'changes%'`); err != nil {
		return fmt.Errorf("reset derived state: %w", err)
	}
	return nil
}
