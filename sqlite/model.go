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

const modelColumns = `id, workspace_id, name, document, created_at, updated_at`

func scanModel(row interface{ Scan(...any) error }) (*kenner.Model, error) {
	var m kenner.Model
	var doc string
	var created, updated int64
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &doc, &created, &updated); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = fromMillis(created), fromMillis(updated)
	if err := kenner.SetModelDocument(&m, []byte(doc)); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.ID, err)
	}
	return &m, nil
}

// CreateModel implements kenner.ModelStore.
func (s *Store) CreateModel(ctx context.Context, m *kenner.Model) error {
	if m.ID == "" {
		m.ID = kenner.NewID("mdl")
	}
	now := time.Now().UTC()
	m.CreatedAt, m.UpdatedAt = now, now
	doc, err := kenner.ModelDocument(m)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO models (`+modelColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			m.ID, m.WorkspaceID, m.Name, string(doc), millis(now), millis(now))
		if isUnique(err) {
			return kenner.Errorf(kenner.EConflict, "a model named %q already exists", m.Name)
		}
		if err != nil {
			return fmt.Errorf("create model: %w", err)
		}
		_, err = bumpVersion(ctx, tx, m.WorkspaceID)
		return err
	})
}

// UpdateModel implements kenner.ModelStore.
func (s *Store) UpdateModel(ctx context.Context, m *kenner.Model) error {
	doc, err := kenner.ModelDocument(m)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE models SET name = ?, document = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			m.Name, string(doc), millis(now), m.WorkspaceID, m.ID)
		if isUnique(err) {
			return kenner.Errorf(kenner.EConflict, "a model named %q already exists", m.Name)
		}
		if err != nil {
			return fmt.Errorf("update model: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no model %q", m.ID)
		}
		_, err = bumpVersion(ctx, tx, m.WorkspaceID)
		return err
	})
	if err == nil {
		m.UpdatedAt = now
	}
	return err
}

// DeleteModel implements kenner.ModelStore.
func (s *Store) DeleteModel(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM model_versions WHERE workspace_id = ? AND model_id = ?`, ws, id); err != nil {
			return fmt.Errorf("delete model: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM models WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete model: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no model %q", id)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// Model implements kenner.ModelStore.
func (s *Store) Model(ctx context.Context, ws, id string) (*kenner.Model, error) {
	m, err := scanModel(s.r.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no model %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// Models implements kenner.ModelStore.
func (s *Store) Models(ctx context.Context, ws string) ([]kenner.Model, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+modelColumns+` FROM models WHERE workspace_id = ? ORDER BY name`, ws)
	return scanAll(rows, err, "models", scanModel)
}

// AddModelVersion implements kenner.ModelStore.
func (s *Store) AddModelVersion(ctx context.Context, ws string, v *kenner.ModelVersion) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO model_versions (workspace_id, model_id, version, document) VALUES (?, ?, ?, ?)`,
		ws, v.ModelID, v.Version, string(doc))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "model %q already has a version %d", v.ModelID, v.Version)
	}
	if err != nil {
		return fmt.Errorf("add model version: %w", err)
	}
	return nil
}

// ModelVersions implements kenner.ModelStore.
func (s *Store) ModelVersions(ctx context.Context, ws, modelID string) ([]kenner.ModelVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT document FROM model_versions WHERE workspace_id = ? AND model_id = ? ORDER BY version DESC`, ws, modelID)
	if err != nil {
		return nil, fmt.Errorf("model versions: %w", err)
	}
	defer rows.Close()
	var out []kenner.ModelVersion
	for rows.Next() {
		var doc string
		var v kenner.ModelVersion
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("model versions: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("model versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
