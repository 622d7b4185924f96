package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kenner-cdp/kenner"
)

const eventColumns = `workspace_id, id, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, profile_id`

func scanEvents(rows *sql.Rows) ([]kenner.Event, error) {
	defer rows.Close()
	var out []kenner.Event
	for rows.Next() {
		var e kenner.Event
		var id, ts, recv int64
		var body []byte
		if err := rows.Scan(&e.WorkspaceID, &id, &e.SourceID, &e.MessageID, &e.Type, &e.Name,
			&e.UserID, &e.AnonymousID, &ts, &recv, &body, &e.ProfileID); err != nil {
			return nil, err
		}
		e.Seq, e.Index = uint64(id)>>16, int(id&0xffff)
		e.Timestamp, e.ReceivedAt, e.Body = fromMillis(ts), fromMillis(recv), body
		out = append(out, e)
	}
	return out, rows.Err()
}

// Events implements kenner.EventStore. Filters on user_id and anonymous_id go through the
// identity graph to the profile's timeline (the events table has no index on them); an id no
// profile holds (a blocked value) falls back to a scan.
func (s *Store) Events(ctx context.Context, f kenner.EventFilter) ([]kenner.Event, string, error) {
	where := []string{"workspace_id = ?"}
	args := []any{f.WorkspaceID}
	profile := f.ProfileID
	for _, c := range []struct{ kind, value, column string }{
		{kenner.KindUserID, f.UserID, "user_id"},
		{kenner.KindAnonymousID, f.AnonymousID, "anonymous_id"},
	} {
		if c.value == "" {
			continue
		}
		where = append(where, c.column+" = ?")
		args = append(args, c.value)
		if profile == "" {
			var owner string
			err := s.r.QueryRowContext(ctx, `SELECT profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?`,
				f.WorkspaceID, c.kind, c.value).Scan(&owner)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, "", fmt.Errorf("list events: %w", err)
			}
			profile = owner
		}
	}
	if profile != "" {
		where = append(where, "profile_id = ? AND profile_id <> ''")
		args = append(args, profile)
	}
	if f.MessageID != "" {
		where = append(where, "message_id = ?")
		args = append(args, f.MessageID)
	}
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if f.Name != "" {
		where = append(where, "name = ?")
		args = append(args, f.Name)
	}
	if f.After != nil {
		where = append(where, "id < ?")
		args = append(args, kenner.EventRank(f.After.Seq, f.After.Index))
	}
	limit := kenner.PageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+`
		FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	out, next := kenner.PageEvents(out, limit)
	return out, next, nil
}

// ResetDerived implements kenner.EventStore. Activation's and the changes relay's positions
// stay: what they read is unchanged, and what they passed on was received.
func (s *Store) ResetDerived(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM events; DELETE FROM positions WHERE consumer NOT LIKE 'activation%' AND consumer NOT LIKE 'changes%'; DELETE FROM profiles;
		DELETE FROM identities; DELETE FROM decisions; DELETE FROM segment_members; DELETE FROM segment_history;`); err != nil {
		return fmt.Errorf("reset derived state: %w", err)
	}
	return nil
}
