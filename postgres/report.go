package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

// SaveReport implements kenner.ReportStore.
func (s *Store) SaveReport(ctx context.Context, r *kenner.SavedReport) error {
	if r.ID == "" {
		r.ID = kenner.NewID("rpt")
	}
	r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(ctx, `INSERT INTO saved_reports (workspace_id, id, name, kind, query, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.WorkspaceID, r.ID, r.Name, r.Kind, r.Query, r.CreatedBy, r.CreatedAt)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a report named %q already exists", r.Name)
	}
	if err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	return nil
}

// Reports implements kenner.ReportStore.
func (s *Store) Reports(ctx context.Context, ws string) ([]kenner.SavedReport, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, kind, query, created_by, created_at FROM saved_reports WHERE workspace_id = $1 ORDER BY seq`, ws)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer rows.Close()
	var out []kenner.SavedReport
	for rows.Next() {
		r := kenner.SavedReport{WorkspaceID: ws}
		if err := rows.Scan(&r.ID, &r.Name, &r.Kind, &r.Query, &r.CreatedBy, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReport implements kenner.ReportStore.
func (s *Store) DeleteReport(ctx context.Context, ws, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM saved_reports WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return fmt.Errorf("delete report: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "no report %q", id)
	}
	return nil
}
