package postgres

import (
	"context"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// IdentityOwners implements kenner.ProfileStore.
func (s *Store) IdentityOwners(ctx context.Context, ws string, ids []kenner.Identifier) (map[kenner.Identifier]string, error) {
	out := make(map[kenner.Identifier]string, len(ids))
	kinds, values := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		kinds[i], values[i] = id.Kind, id.Value
	}
	rows, err := s.pool.Query(ctx, `SELECT i.kind, i.value, i.profile_id FROM unnest($2::text[], $3::text[]) AS u(k, v)
		JOIN identities i ON i.workspace_id = $1 AND i.kind = u.k AND i.value = u.v`, ws, kinds, values)
	if err != nil {
		return nil, fmt.Errorf("identity owners: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id kenner.Identifier
		var p string
		if err := rows.Scan(&id.Kind, &id.Value, &p); err != nil {
			return nil, fmt.Errorf("identity owners: %w", err)
		}
		out[id] = p
	}
	return out, rows.Err()
}

// ScanIdentities implements kenner.ProfileStore.
func (s *Store) ScanIdentities(ctx context.Context, ws string, after kenner.Identifier, limit int) ([]kenner.IdentityOwner, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, value, profile_id FROM identities WHERE workspace_id = $1 AND (kind, value) > ($2, $3)
		ORDER BY kind, value LIMIT $4`, ws, after.Kind, after.Value, limit)
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
	seqs, idxs := make([]int64, len(ranks)), make([]int32, len(ranks))
	for i, r := range ranks {
		seqs[i], idxs[i] = r>>16, int32(r&0xffff)
	}
	rows, err := s.pool.Query(ctx, `SELECT e.seq, e.idx, e.body FROM unnest($2::bigint[], $3::int[]) AS u(s, i)
		JOIN events e ON e.workspace_id = $1 AND e.seq = u.s AND e.idx = u.i`, ws, seqs, idxs)
	if err != nil {
		return nil, fmt.Errorf("event bodies: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]byte, len(ranks))
	for rows.Next() {
		var seq int64
		var idx int32
		var body []byte
		if err := rows.Scan(&seq, &idx, &body); err != nil {
			return nil, fmt.Errorf("event bodies: %w", err)
		}
		out[seq<<16|int64(idx)] = body
	}
	return out, rows.Err()
}
