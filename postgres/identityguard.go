package postgres

import (
	"context"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// ProtectedProfiles implements kenner.IdentityGuardBatch.
func (b *batch) ProtectedProfiles(ctx context.Context, ws string, id kenner.Identifier) (int, error) {
	var n int
	err := b.tx.QueryRow(ctx, `SELECT count(DISTINCT profile_id) FROM decisions
		WHERE workspace_id = $1 AND kind = $2 AND value = $3 AND action = 'protect'`, ws, id.Kind, id.Value).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("protected profiles: %w", err)
	}
	return n, nil
}

// BlockIdentifier implements kenner.IdentityGuardBatch.
func (b *batch) BlockIdentifier(ctx context.Context, ws string, bl kenner.BlockedIdentifier) error {
	if _, err := b.tx.Exec(ctx, `INSERT INTO blocked_identifiers (workspace_id, kind, value, profiles, allowed, created_at)
		VALUES ($1, $2, $3, $4, false, $5) ON CONFLICT DO NOTHING`, ws, bl.Kind, bl.Value, bl.Profiles, bl.CreatedAt); err != nil {
		return fmt.Errorf("block identifier: %w", err)
	}
	return nil
}

// BlockedIdentifiers implements kenner.IdentityGuardStore.
func (s *Store) BlockedIdentifiers(ctx context.Context, ws string) ([]kenner.BlockedIdentifier, error) {
	rows, err := s.pool.Query(ctx, `SELECT workspace_id, kind, value, profiles, allowed, created_at FROM blocked_identifiers
		WHERE $1 = '' OR workspace_id = $1 ORDER BY created_at DESC, kind, value`, ws)
	if err != nil {
		return nil, fmt.Errorf("blocked identifiers: %w", err)
	}
	defer rows.Close()
	var out []kenner.BlockedIdentifier
	for rows.Next() {
		var bl kenner.BlockedIdentifier
		if err := rows.Scan(&bl.WorkspaceID, &bl.Kind, &bl.Value, &bl.Profiles, &bl.Allowed, &bl.CreatedAt); err != nil {
			return nil, fmt.Errorf("blocked identifiers: %w", err)
		}
		bl.CreatedAt = bl.CreatedAt.UTC()
		out = append(out, bl)
	}
	return out, rows.Err()
}

// AllowIdentifier implements kenner.IdentityGuardStore.
func (s *Store) AllowIdentifier(ctx context.Context, ws string, id kenner.Identifier) error {
	tag, err := s.pool.Exec(ctx, `UPDATE blocked_identifiers SET allowed = true WHERE workspace_id = $1 AND kind = $2 AND value = $3`, ws, id.Kind, id.Value)
	if err != nil {
		return fmt.Errorf("allow identifier: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "%s is not on the guard's list", id)
	}
	return nil
}
