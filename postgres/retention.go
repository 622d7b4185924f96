package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// ExpireEvents implements kenner.PrivacyStore.
func (s *Store) ExpireEvents(ctx context.Context, ws string, x kenner.Expiry, limit int) (int64, error) {
	where, a := []string{"workspace_id = $1", "ts < $2"}, []any{ws, x.Before}
	add := func(cond string, v any) {
		a = append(a, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(a)), 1))
	}
	if x.Type != "" {
		add("type = ?", x.Type)
	}
	if x.Name != "" {
		add("name = ?", x.Name)
	}
	if len(x.ExceptTypes) > 0 {
		add("NOT (type = ANY(?))", x.ExceptTypes)
	}
	if len(x.ExceptNames) > 0 {
		add("NOT (name = ANY(?))", x.ExceptNames)
	}
	a = append(a, limit)
	tag, err := s.pool.Exec(ctx, `DELETE FROM events WHERE (workspace_id, seq, idx) IN (SELECT workspace_id, seq, idx FROM events WHERE `+
		strings.Join(where, " AND ")+` LIMIT $`+strconv.Itoa(len(a))+`)`, a...)
	if err != nil {
		return 0, fmt.Errorf("expire events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ExpireAudit implements kenner.PrivacyStore.
func (s *Store) ExpireAudit(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("expire audit log: %w", err)
	}
	return tag.RowsAffected(), nil
}
