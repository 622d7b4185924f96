package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

// PutMatchRun implements kenner.MatchStore.
func (s *Store) PutMatchRun(ctx context.Context, r *kenner.MatchRun) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO match_runs (workspace_id, id, created_at, document) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET document = excluded.document`, r.WorkspaceID, r.ID, millis(r.CreatedAt), string(doc))
	if err != nil {
		return fmt.Errorf("put match run: %w", err)
	}
	return nil
}

func scanMatchRun(ws string) func(row interface{ Scan(...any) error }) (*kenner.MatchRun, error) {
	return func(row interface{ Scan(...any) error }) (*kenner.MatchRun, error) {
		var doc string
		if err := row.Scan(&doc); err != nil {
			return nil, err
		}
		r := &kenner.MatchRun{WorkspaceID: ws}
		if err := json.Unmarshal([]byte(doc), r); err != nil {
			return nil, err
		}
		return r, nil
	}
}

// MatchRun implements kenner.MatchStore.
func (s *Store) MatchRun(ctx context.Context, ws, id string) (*kenner.MatchRun, error) {
	r, err := scanMatchRun(ws)(s.r.QueryRowContext(ctx, `SELECT document FROM match_runs WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no match run %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("match run: %w", err)
	}
	return r, nil
}

// MatchRuns implements kenner.MatchStore.
func (s *Store) MatchRuns(ctx context.Context, ws string, limit int) ([]kenner.MatchRun, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT document FROM match_runs WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, ws, limit)
	return scanAll(rows, err, "match runs", scanMatchRun(ws))
}

// AddMatchReviews implements kenner.MatchStore.
func (s *Store) AddMatchReviews(ctx context.Context, ws string, rs []kenner.MatchReview) (int, error) {
	added := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		added = 0
		for i := range rs {
			r := &rs[i]
			r.WorkspaceID = ws
			doc, err := json.Marshal(r)
			if err != nil {
				return err
			}
			var id int64
			err = tx.QueryRowContext(ctx, `INSERT INTO match_reviews (workspace_id, pair_key, run_id, status, profile_a, profile_b, document)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, pair_key) DO NOTHING RETURNING id`,
				ws, r.Key(), r.RunID, r.Status, r.A.ProfileID, r.B.ProfileID, string(doc)).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("add match reviews: %w", err)
			}
			r.ID = id
			added++
		}
		return nil
	})
	return added, err
}

func scanMatchReview(row interface{ Scan(...any) error }) (*kenner.MatchReview, error) {
	var id int64
	var ws, doc string
	if err := row.Scan(&id, &ws, &doc); err != nil {
		return nil, err
	}
	r := &kenner.MatchReview{}
	if err := json.Unmarshal([]byte(doc), r); err != nil {
		return nil, err
	}
	r.ID, r.WorkspaceID = id, ws
	return r, nil
}

// MatchReviews implements kenner.MatchStore.
func (s *Store) MatchReviews(ctx context.Context, f kenner.MatchReviewFilter) ([]kenner.MatchReview, error) {
	q := `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = ?`
	args := []any{f.WorkspaceID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.RunID != "" {
		q += ` AND run_id = ?`
		args = append(args, f.RunID)
	}
	if f.After > 0 {
		q += ` AND id < ?`
		args = append(args, f.After)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	return scanAll(rows, err, "match reviews", scanMatchReview)
}

// MatchReview implements kenner.MatchStore.
func (s *Store) MatchReview(ctx context.Context, ws string, id int64) (*kenner.MatchReview, error) {
	r, err := scanMatchReview(s.r.QueryRowContext(ctx, `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no match review %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("match review: %w", err)
	}
	return r, nil
}

// DecideMatchReview implements kenner.MatchStore.
func (s *Store) DecideMatchReview(ctx context.Context, ws string, id int64, status, by string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := scanMatchReview(tx.QueryRowContext(ctx, `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = ? AND id = ?`, ws, id))
		if errors.Is(err, sql.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no match review %d", id)
		}
		if err != nil {
			return fmt.Errorf("decide match review: %w", err)
		}
		doc, err := kenner.DecideReview(r, status, by, at)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE match_reviews SET status = ?, document = ? WHERE workspace_id = ? AND id = ?`, status, string(doc), ws, id)
		if err != nil {
			return fmt.Errorf("decide match review: %w", err)
		}
		return nil
	})
}

// CountMatchReviews implements kenner.MatchStore.
func (s *Store) CountMatchReviews(ctx context.Context, ws string) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, count(*) FROM match_reviews WHERE workspace_id = ? GROUP BY status`, ws)
	if err != nil {
		return nil, fmt.Errorf("count match reviews: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count match reviews: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}
