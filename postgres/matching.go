package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

// PutMatchRun implements kenner.MatchStore.
func (s *Store) PutMatchRun(ctx context.Context, r *kenner.MatchRun) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO match_runs (workspace_id, id, created_at, document) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, id) DO UPDATE SET document = excluded.document`, r.WorkspaceID, r.ID, r.CreatedAt, doc)
	if err != nil {
		return fmt.Errorf("put match run: %w", err)
	}
	return nil
}

func scanMatchRun(ws string) func(row pgx.Row) (*kenner.MatchRun, error) {
	return func(row pgx.Row) (*kenner.MatchRun, error) {
		var doc []byte
		if err := row.Scan(&doc); err != nil {
			return nil, err
		}
		r := &kenner.MatchRun{WorkspaceID: ws}
		if err := json.Unmarshal(doc, r); err != nil {
			return nil, err
		}
		return r, nil
	}
}

// MatchRun implements kenner.MatchStore.
func (s *Store) MatchRun(ctx context.Context, ws, id string) (*kenner.MatchRun, error) {
	r, err := scanMatchRun(ws)(s.pool.QueryRow(ctx, `SELECT document FROM match_runs WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no match run %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("match run: %w", err)
	}
	return r, nil
}

// MatchRuns implements kenner.MatchStore.
func (s *Store) MatchRuns(ctx context.Context, ws string, limit int) ([]kenner.MatchRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT document FROM match_runs WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, ws, limit)
	if err != nil {
		return nil, fmt.Errorf("match runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.MatchRun, error) {
		m, err := scanMatchRun(ws)(r)
		if err != nil {
			return kenner.MatchRun{}, err
		}
		return *m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("match runs: %w", err)
	}
	return out, nil
}

// AddMatchReviews implements kenner.MatchStore.
func (s *Store) AddMatchReviews(ctx context.Context, ws string, rs []kenner.MatchReview) (int, error) {
	added := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		added = 0
		for i := range rs {
			r := &rs[i]
			r.WorkspaceID = ws
			doc, err := json.Marshal(r)
			if err != nil {
				return err
			}
			var id int64
			err = tx.QueryRow(ctx, `INSERT INTO match_reviews (workspace_id, pair_key, run_id, status, profile_a, profile_b, document)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, pair_key) DO NOTHING RETURNING id`,
				ws, r.Key(), r.RunID, r.Status, r.A.ProfileID, r.B.ProfileID, doc).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
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

func scanMatchReview(row pgx.Row) (*kenner.MatchReview, error) {
	var id int64
	var ws string
	var doc []byte
	if err := row.Scan(&id, &ws, &doc); err != nil {
		return nil, err
	}
	r := &kenner.MatchReview{}
	if err := json.Unmarshal(doc, r); err != nil {
		return nil, err
	}
	r.ID, r.WorkspaceID = id, ws
	return r, nil
}

// MatchReviews implements kenner.MatchStore.
func (s *Store) MatchReviews(ctx context.Context, f kenner.MatchReviewFilter) ([]kenner.MatchReview, error) {
	q := `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = $1`
	args := []any{f.WorkspaceID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += " AND " + cond + " $" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		add("status =", f.Status)
	}
	if f.RunID != "" {
		add("run_id =", f.RunID)
	}
	if f.After > 0 {
		add("id <", f.After)
	}
	args = append(args, f.Limit)
	q += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("match reviews: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.MatchReview, error) {
		m, err := scanMatchReview(r)
		if err != nil {
			return kenner.MatchReview{}, err
		}
		return *m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("match reviews: %w", err)
	}
	return out, nil
}

// MatchReview implements kenner.MatchStore.
func (s *Store) MatchReview(ctx context.Context, ws string, id int64) (*kenner.MatchReview, error) {
	r, err := scanMatchReview(s.pool.QueryRow(ctx, `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no match review %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("match review: %w", err)
	}
	return r, nil
}

// DecideMatchReview implements kenner.MatchStore.
func (s *Store) DecideMatchReview(ctx context.Context, ws string, id int64, status, by string, at time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := scanMatchReview(tx.QueryRow(ctx, `SELECT id, workspace_id, document FROM match_reviews WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, ws, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no match review %d", id)
		}
		if err != nil {
			return fmt.Errorf("decide match review: %w", err)
		}
		doc, err := kenner.DecideReview(r, status, by, at)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE match_reviews SET status = $1, document = $2 WHERE workspace_id = $3 AND id = $4`, status, doc, ws, id); err != nil {
			return fmt.Errorf("decide match review: %w", err)
		}
		return nil
	})
}

// CountMatchReviews implements kenner.MatchStore.
func (s *Store) CountMatchReviews(ctx context.Context, ws string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM match_reviews WHERE workspace_id = $1 GROUP BY status`, ws)
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
