package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// SourceByID implements kenner.SourceSettingsStore.
func (s *Store) SourceByID(ctx context.Context, id string) (*kenner.Source, error) {
	src, err := scanSource(s.r.QueryRowContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no source %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("find source: %w", err)
	}
	return src, nil
}

// UpdateSourceSettings implements kenner.SourceSettingsStore.
func (s *Store) UpdateSourceSettings(ctx context.Context, ws, id string, settings kenner.SourceSettings) error {
	doc, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE sources SET settings = ? WHERE workspace_id = ? AND id = ?`, doc, ws, id)
	if err != nil {
		return fmt.Errorf("update source settings: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no source %q", id)
	}
	return nil
}

// AddViolations implements kenner.SourceSettingsStore.
func (s *Store) AddViolations(ctx context.Context, ws string, vs []kenner.ViolationCount) error {
	if len(vs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, v := range vs {
			_, err := tx.ExecContext(ctx, `INSERT INTO violations (workspace_id, source_id, event, path, message, count, first_seen, last_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (workspace_id, source_id, event, path, message) DO UPDATE SET
					count = count + excluded.count,
					first_seen = min(first_seen, excluded.first_seen),
					last_seen = max(last_seen, excluded.last_seen)`,
				ws, v.SourceID, v.Event, v.Path, v.Message, v.Count, millis(v.FirstSeen), millis(v.LastSeen))
			if err != nil {
				return fmt.Errorf("add violations: %w", err)
			}
		}
		return nil
	})
}

// Violations implements kenner.SourceSettingsStore.
func (s *Store) Violations(ctx context.Context, ws, sourceID string) ([]kenner.ViolationCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT event, path, message, count, first_seen, last_seen FROM violations
		WHERE workspace_id = ? AND source_id = ? ORDER BY count DESC, event, path, message`, ws, sourceID)
	if err != nil {
		return nil, fmt.Errorf("violations: %w", err)
	}
	defer rows.Close()
	var out []kenner.ViolationCount
	for rows.Next() {
		v := kenner.ViolationCount{SourceID: sourceID}
		var first, last int64
		if err := rows.Scan(&v.Event, &v.Path, &v.Message, &v.Count, &first, &last); err != nil {
			return nil, fmt.Errorf("violations: %w", err)
		}
		v.FirstSeen, v.LastSeen = fromMillis(first), fromMillis(last)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Quarantine implements kenner.SourceSettingsStore.
func (s *Store) Quarantine(ctx context.Context, es []kenner.QuarantinedEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for i := range es {
			e := &es[i]
			vs, err := json.Marshal(e.Violations)
			if err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, `INSERT INTO quarantine (workspace_id, source_id, message_id, type, event, user_id, anonymous_id, violations, body, received_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Event, e.UserID, e.AnonymousID, vs, []byte(e.Body), millis(e.ReceivedAt)).Scan(&e.ID)
			if err != nil {
				return fmt.Errorf("quarantine: %w", err)
			}
		}
		return nil
	})
}

// QuarantinedEvents implements kenner.SourceSettingsStore.
func (s *Store) QuarantinedEvents(ctx context.Context, f kenner.QuarantineFilter) ([]kenner.QuarantinedEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, message_id, type, event, user_id, anonymous_id, violations, body, received_at FROM quarantine
		WHERE workspace_id = ? AND source_id = ? AND id > ? ORDER BY id LIMIT ?`, f.WorkspaceID, f.SourceID, f.After, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("quarantined events: %w", err)
	}
	defer rows.Close()
	var out []kenner.QuarantinedEvent
	for rows.Next() {
		e := kenner.QuarantinedEvent{WorkspaceID: f.WorkspaceID, SourceID: f.SourceID}
		var vs, body []byte
		var received int64
		if err := rows.Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID, &vs, &body, &received); err != nil {
			return nil, fmt.Errorf("quarantined events: %w", err)
		}
		if err := json.Unmarshal(vs, &e.Violations); err != nil {
			return nil, fmt.Errorf("quarantined event %d: %w", e.ID, err)
		}
		e.Body, e.ReceivedAt = body, fromMillis(received)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReleaseQuarantined implements kenner.SourceSettingsStore.
func (s *Store) ReleaseQuarantined(ctx context.Context, ws, sourceID string, ids []int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `DELETE FROM quarantine WHERE workspace_id = ? AND source_id = ? AND id = ?`, ws, sourceID, id)
			if err != nil {
				return fmt.Errorf("release quarantined: %w", err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}
