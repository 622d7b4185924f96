package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

// profileIDOf is the id of the profile an identifier belongs to (the profile's own id for
// kind "id", which may name a profile merged away).
func (s *Store) profileIDOf(ctx context.Context, ws string, id kenner.Identifier) (string, error) {
	if id.Kind == kenner.KindProfileID {
		return id.Value, nil
	}
	var pid string
	err := s.pool.QueryRow(ctx, `SELECT profile_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3`,
		ws, id.Kind, id.Value).Scan(&pid)
	if err == pgx.ErrNoRows {
		return "", kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	if err != nil {
		return "", fmt.Errorf("find profile: %w", err)
	}
	return pid, nil
}

// Profile implements kenner.ProfileStore.
func (s *Store) Profile(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	pid, err := s.profileIDOf(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	// One round trip: the profile (or the one it was merged into) and its identities.
	rows, err := s.pool.Query(ctx, `WITH p AS (
			SELECT `+profileColumns+` FROM profiles WHERE workspace_id = $1 AND id = (
				SELECT CASE WHEN merged_into <> '' THEN merged_into ELSE id END FROM profiles WHERE workspace_id = $1 AND id = $2))
		SELECT p.*, i.kind, i.value, i.source_id, i.message_id, i.rank, i.at
		FROM p LEFT JOIN identities i ON i.workspace_id = p.workspace_id AND i.profile_id = p.id
		ORDER BY i.rank, i.kind, i.value`, ws, pid)
	if err != nil {
		return nil, fmt.Errorf("find profile: %w", err)
	}
	defer rows.Close()
	var out *kenner.Profile
	for rows.Next() {
		var data []byte
		var first, last, expires *time.Time
		var p storedProfile
		var kind, value, src, msg *string
		var rank *int64
		var at *time.Time
		if err := rows.Scan(&p.WorkspaceID, &p.ID, &p.Rank, &p.mergedInto, &data, &first, &last, &p.Version, &p.UpdatedAt, &expires,
			&kind, &value, &src, &msg, &rank, &at); err != nil {
			return nil, fmt.Errorf("find profile: %w", err)
		}
		if out == nil {
			sp, err := decodeProfile(p, data, first, last, expires, nil)
			if err != nil {
				return nil, err
			}
			out = &sp.Profile
		}
		if kind != nil {
			out.Identities = append(out.Identities, kenner.Identity{Identifier: kenner.Identifier{Kind: *kind, Value: *value},
				SourceID: *src, MessageID: *msg, Rank: *rank, At: at.UTC()})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find profile: %w", err)
	}
	if out == nil {
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	return out, nil
}

// ProfileState implements kenner.ProfileStore.
func (s *Store) ProfileState(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	pid, err := s.profileIDOf(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	var data []byte
	var first, last, expires *time.Time
	var p storedProfile
	err = s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = $1 AND id = (
		SELECT CASE WHEN merged_into <> '' THEN merged_into ELSE id END FROM profiles WHERE workspace_id = $1 AND id = $2)`, ws, pid).
		Scan(&p.WorkspaceID, &p.ID, &p.Rank, &p.mergedInto, &data, &first, &last, &p.Version, &p.UpdatedAt, &expires)
	if err == pgx.ErrNoRows {
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("find profile: %w", err)
	}
	sp, err := decodeProfile(p, data, first, last, expires, nil)
	if err != nil {
		return nil, err
	}
	return &sp.Profile, nil
}

// Decisions implements kenner.ProfileStore.
func (s *Store) Decisions(ctx context.Context, ws, profileID string, after int64, limit int) ([]kenner.Decision, int64, error) {
	limit = kenner.PageLimit(limit)
	if after <= 0 {
		after = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, profile_id, action, from_id, kind, value, message_id, reason, rank, at
		FROM decisions WHERE workspace_id = $1 AND profile_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`, ws, profileID, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list decisions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Decision, error) {
		var d kenner.Decision
		err := r.Scan(&d.ID, &d.ProfileID, &d.Action, &d.From, &d.Identifier.Kind, &d.Identifier.Value, &d.MessageID, &d.Reason, &d.Rank, &d.At)
		d.At = d.At.UTC()
		return d, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list decisions: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
