package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// Profile implements kenner.ProfileStore.
func (s *Store) Profile(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	p, err := s.profileState(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.lookups.identities.QueryContext(ctx, ws, p.ID)
	if err != nil {
		return nil, fmt.Errorf("profile identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i kenner.Identity
		var at int64
		if err := rows.Scan(&i.Kind, &i.Value, &i.SourceID, &i.MessageID, &i.Rank, &at); err != nil {
			return nil, fmt.Errorf("profile identities: %w", err)
		}
		i.At = fromMillis(at)
		p.Identities = append(p.Identities, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("profile identities: %w", err)
	}
	return p, nil
}

// ProfileState implements kenner.ProfileStore.
func (s *Store) ProfileState(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	return s.profileState(ctx, ws, id)
}

func (s *Store) profileState(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	pid := id.Value
	if id.Kind != kenner.KindProfileID {
		err := s.lookups.owner.QueryRowContext(ctx, ws, id.Kind, id.Value).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
		}
		if err != nil {
			return nil, fmt.Errorf("find profile: %w", err)
		}
	}
	p, err := scanProfile(s.lookups.profile.QueryRowContext(ctx, ws, pid))
	if err == nil && p.mergedInto != "" {
		p, err = scanProfile(s.lookups.profile.QueryRowContext(ctx, ws, p.mergedInto))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("find profile: %w", err)
	}
	return &p.Profile, nil
}

// lookupStmts are Profile's statements.
type lookupStmts struct{ owner, profile, identities *sql.Stmt }

func prepareLookups(ctx context.Context, db *sql.DB) (lookupStmts, error) {
	var l lookupStmts
	var err error
	for _, q := range []struct {
		to  **sql.Stmt
		sql string
	}{
		{&l.owner, `SELECT profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?`},
		{&l.profile, `SELECT ` + profileColumns + ` FROM profiles WHERE workspace_id = ? AND id = ?`},
		{&l.identities, `SELECT kind, value, source_id, message_id, rank, at FROM identities INDEXED BY identities_profile
		WHERE workspace_id = ? AND profile_id = ? ORDER BY rank, kind, value`},
	} {
		if *q.to, err = db.PrepareContext(ctx, q.sql); err != nil {
			return l, fmt.Errorf("prepare the profile lookup: %w", err)
		}
	}
	return l, nil
}

// Decisions implements kenner.ProfileStore.
func (s *Store) Decisions(ctx context.Context, ws, profileID string, after int64, limit int) ([]kenner.Decision, int64, error) {
	limit = kenner.PageLimit(limit)
	if after <= 0 {
		after = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, profile_id, action, from_id, kind, value, message_id, reason, rank, at
		FROM decisions WHERE workspace_id = ? AND profile_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, ws, profileID, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list decisions: %w", err)
	}
	defer rows.Close()
	var out []kenner.Decision
	for rows.Next() {
		var d kenner.Decision
		var at int64
		if err := rows.Scan(&d.ID, &d.ProfileID, &d.Action, &d.From, &d.Identifier.Kind, &d.Identifier.Value, &d.MessageID, &d.Reason, &d.Rank, &at); err != nil {
			return nil, 0, fmt.Errorf("list decisions: %w", err)
		}
		d.At = fromMillis(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list decisions: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
