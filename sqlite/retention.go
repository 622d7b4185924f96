package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// ExpireEvents implements kenner.PrivacyStore. Expired events are the oldest ones, at the
// start of the id order, so each chunk's scan finds them first.
func (s *Store) ExpireEvents(ctx context.Context, ws string, x kenner.Expiry, limit int) (int64, error) {
	where, a := []string{"workspace_id = ?", "ts < ?"}, []any{ws, millis(x.Before)}
	if x.Type != "" {
		where, a = append(where, "type = ?"), append(a, x.Type)
	}
	if x.Name != "" {
		where, a = append(where, "name = ?"), append(a, x.Name)
	}
	if len(x.ExceptTypes) > 0 {
		where = append(where, "type NOT IN "+in(len(x.ExceptTypes)))
		for _, t := range x.ExceptTypes {
			a = append(a, t)
		}
	}
	if len(x.ExceptNames) > 0 {
		where = append(where, "name NOT IN "+in(len(x.ExceptNames)))
		for _, n := range x.ExceptNames {
			a = append(a, n)
		}
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE `+
		strings.Join(where, " AND ")+` LIMIT ?)`, append(a, limit)...)
	if err != nil {
		return 0, fmt.Errorf("expire events: %w", err)
	}
	return res.RowsAffected()
}

// ExpireAudit implements kenner.PrivacyStore.
func (s *Store) ExpireAudit(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)`, millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("expire audit log: %w", err)
	}
	return res.RowsAffected()
}
