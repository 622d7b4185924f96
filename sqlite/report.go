package sqlite

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
	r.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.w.ExecContext(ctx, `INSERT INTO saved_reports (workspace_id, id, name, kind, query, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.WorkspaceID, r.ID, r.Name, r.Kind, r.Query, r.CreatedBy, millis(r.CreatedAt))
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, kind, query, created_by, created_at FROM saved_reports WHERE workspace_id = ? ORDER BY rowid`, ws)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer rows.Close()
	var out []kenner.SavedReport
	for rows.Next() {
		r := kenner.SavedReport{WorkspaceID: ws}
		var at int64
		if err := rows.Scan(&r.ID, &r.Name, &r.Kind, &r.Query, &r.CreatedBy, &at); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		r.CreatedAt = fromMillis(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReport implements kenner.ReportStore.
func (s *Store) DeleteReport(ctx context.Context, ws, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM saved_reports WHERE workspace_id = ? AND id = ?`, ws, id)
	if err != nil {
		return fmt.Errorf("delete report: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no report %q", id)
	}
	return nil
}
