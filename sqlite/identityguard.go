package sqlite

import (
	"context"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// ProtectedProfiles implements kenner.IdentityGuardBatch.
func (b *batch) ProtectedProfiles(ctx context.Context, ws string, id kenner.Identifier) (int, error) {
	var n int
	err := b.queryRow(ctx, `SELECT count(DISTINCT profile_id) FROM decisions INDEXED BY decisions_protected
		WHERE workspace_id = ? AND kind = ? AND value = ? AND action = 'protect'`, ws, id.Kind, id.Value).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("protected profiles: %w", err)
	}
	return n, nil
}

// BlockIdentifier implements kenner.IdentityGuardBatch.
func (b *batch) BlockIdentifier(ctx context.Context, ws string, bl kenner.BlockedIdentifier) error {
	if _, err := b.exec(ctx, `INSERT INTO blocked_identifiers (workspace_id, kind, value, profiles, allowed, created_at)
		VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING`, ws, bl.Kind, bl.Value, bl.Profiles, millis(bl.CreatedAt)); err != nil {
		return fmt.Errorf("block identifier: %w", err)
	}
	return nil
}

// BlockedIdentifiers implements kenner.IdentityGuardStore.
func (s *Store) BlockedIdentifiers(ctx context.Context, ws string) ([]kenner.BlockedIdentifier, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT workspace_id, kind, value, profiles, allowed, created_at FROM blocked_identifiers
		WHERE ? = '' OR workspace_id = ? ORDER BY created_at DESC, kind, value`, ws, ws)
	if err != nil {
		return nil, fmt.Errorf("blocked identifiers: %w", err)
	}
	defer rows.Close()
	var out []kenner.BlockedIdentifier
	for rows.Next() {
		var bl kenner.BlockedIdentifier
		var at int64
		var w string
		if err := rows.Scan(&w, &bl.Kind, &bl.Value, &bl.Profiles, &bl.Allowed, &at); err != nil {
			return nil, fmt.Errorf("blocked identifiers: %w", err)
		}
		bl.WorkspaceID, bl.CreatedAt = w, fromMillis(at)
		out = append(out, bl)
	}
	return out, rows.Err()
}

// AllowIdentifier implements kenner.IdentityGuardStore.
func (s *Store) AllowIdentifier(ctx context.Context, ws string, id kenner.Identifier) error {
	res, err := s.w.ExecContext(ctx, `UPDATE blocked_identifiers SET allowed = 1 WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value)
	if err != nil {
		return fmt.Errorf("allow identifier: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "%s is not on the guard's list", id)
	}
	return nil
}
