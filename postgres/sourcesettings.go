package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

// SourceByID implements kenner.SourceSettingsStore.
func (s *Store) SourceByID(ctx context.Context, id string) (*kenner.Source, error) {
	src, err := scanSource(s.pool.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := s.pool.Exec(ctx, `UPDATE sources SET settings = $1 WHERE workspace_id = $2 AND id = $3`, doc, ws, id)
	if err != nil {
		return fmt.Errorf("update source settings: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "no source %q", id)
	}
	return nil
}

// AddViolations implements kenner.SourceSettingsStore.
func (s *Store) AddViolations(ctx context.Context, ws string, vs []kenner.ViolationCount) error {
	if len(vs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, v := range vs {
		b.Queue(`INSERT INTO violations (workspace_id, source_id, event, path, message, count, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (workspace_id, source_id, event, path, message) DO UPDATE SET
				count = violations.count + excluded.count,
				first_seen = least(violations.first_seen, excluded.first_seen),
				last_seen = greatest(violations.last_seen, excluded.last_seen)`,
			ws, v.SourceID, v.Event, v.Path, v.Message, v.Count, v.FirstSeen, v.LastSeen)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("add violations: %w", err)
	}
	return nil
}

// Violations implements kenner.SourceSettingsStore.
func (s *Store) Violations(ctx context.Context, ws, sourceID string) ([]kenner.ViolationCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT event, path, message, count, first_seen, last_seen FROM violations
		WHERE workspace_id = $1 AND source_id = $2 ORDER BY count DESC, event, path, message`, ws, sourceID)
	if err != nil {
		return nil, fmt.Errorf("violations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.ViolationCount, error) {
		v := kenner.ViolationCount{SourceID: sourceID}
		err := r.Scan(&v.Event, &v.Path, &v.Message, &v.Count, &v.FirstSeen, &v.LastSeen)
		v.FirstSeen, v.LastSeen = utc(v.FirstSeen), utc(v.LastSeen)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("violations: %w", err)
	}
	return out, nil
}

// Quarantine implements kenner.SourceSettingsStore.
func (s *Store) Quarantine(ctx context.Context, es []kenner.QuarantinedEvent) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i := range es {
			e := &es[i]
			vs, err := json.Marshal(e.Violations)
			if err != nil {
				return err
			}
			err = tx.QueryRow(ctx, `INSERT INTO quarantine (workspace_id, source_id, message_id, type, event, user_id, anonymous_id, violations, body, received_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
				e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Event, e.UserID, e.AnonymousID, vs, []byte(e.Body), e.ReceivedAt).Scan(&e.ID)
			if err != nil {
				return fmt.Errorf("quarantine: %w", err)
			}
		}
		return nil
	})
}

// QuarantinedEvents implements kenner.SourceSettingsStore.
func (s *Store) QuarantinedEvents(ctx context.Context, f kenner.QuarantineFilter) ([]kenner.QuarantinedEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, message_id, type, event, user_id, anonymous_id, violations, body, received_at FROM quarantine
		WHERE workspace_id = $1 AND source_id = $2 AND id > $3 ORDER BY id LIMIT $4`, f.WorkspaceID, f.SourceID, f.After, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("quarantined events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.QuarantinedEvent, error) {
		e := kenner.QuarantinedEvent{WorkspaceID: f.WorkspaceID, SourceID: f.SourceID}
		var vs, body []byte
		if err := r.Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID, &vs, &body, &e.ReceivedAt); err != nil {
			return e, err
		}
		e.Body, e.ReceivedAt = body, utc(e.ReceivedAt)
		return e, json.Unmarshal(vs, &e.Violations)
	})
	if err != nil {
		return nil, fmt.Errorf("quarantined events: %w", err)
	}
	return out, nil
}

// ReleaseQuarantined implements kenner.SourceSettingsStore.
func (s *Store) ReleaseQuarantined(ctx context.Context, ws, sourceID string, ids []int64) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM quarantine WHERE workspace_id = $1 AND source_id = $2 AND id = ANY($3)`, ws, sourceID, ids)
	if err != nil {
		return 0, fmt.Errorf("release quarantined: %w", err)
	}
	return tag.RowsAffected(), nil
}
