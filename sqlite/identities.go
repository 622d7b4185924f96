package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// IdentityOwners implements kenner.ProfileStore.
func (s *Store) IdentityOwners(ctx context.Context, ws string, ids []kenner.Identifier) (map[kenner.Identifier]string, error) {
	out := make(map[kenner.Identifier]string, len(ids))
	byKind := map[string][]string{}
	for _, id := range ids {
		byKind[id.Kind] = append(byKind[id.Kind], id.Value)
	}
	for kind, values := range byKind {
		for len(values) > 0 {
			n := min(len(values), 500)
			args := []any{ws, kind}
			for _, v := range values[:n] {
				args = append(args, v)
			}
			rows, err := s.r.QueryContext(ctx, `SELECT value, profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value IN (`+
				strings.TrimSuffix(strings.Repeat("?,", n), ",")+`)`, args...)
			if err != nil {
				return nil, fmt.Errorf("identity owners: %w", err)
			}
			for rows.Next() {
				var v, p string
				if err := rows.Scan(&v, &p); err != nil {
					rows.Close()
					return nil, fmt.Errorf("identity owners: %w", err)
				}
				out[kenner.Identifier{Kind: kind, Value: v}] = p
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("identity owners: %w", err)
			}
			values = values[n:]
		}
	}
	return out, nil
}

// ScanIdentities implements kenner.ProfileStore.
func (s *Store) ScanIdentities(ctx context.Context, ws string, after kenner.Identifier, limit int) ([]kenner.IdentityOwner, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kind, value, profile_id FROM identities WHERE workspace_id = ? AND (kind, value) > (?, ?)
		ORDER BY kind, value LIMIT ?`, ws, after.Kind, after.Value, limit)
	if err != nil {
		return nil, fmt.Errorf("scan identities: %w", err)
	}
	defer rows.Close()
	var out []kenner.IdentityOwner
	for rows.Next() {
		var o kenner.IdentityOwner
		if err := rows.Scan(&o.Kind, &o.Value, &o.ProfileID); err != nil {
			return nil, fmt.Errorf("scan identities: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// EventBodies implements kenner.EventStore.
func (s *Store) EventBodies(ctx context.Context, ws string, ranks []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ranks))
	for len(ranks) > 0 {
		n := min(len(ranks), 500)
		args := []any{ws}
		for _, r := range ranks[:n] {
			args = append(args, r)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM events WHERE workspace_id = ? AND id IN (`+strings.TrimSuffix(strings.Repeat("?,", n), ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("event bodies: %w", err)
		}
		for rows.Next() {
			var id int64
			var body []byte
			if err := rows.Scan(&id, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("event bodies: %w", err)
			}
			out[id] = body
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("event bodies: %w", err)
		}
		ranks = ranks[n:]
	}
	return out, nil
}
