package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

const modelColumns = `id, workspace_id, name, document, created_at, updated_at`

func scanModel(row pgx.Row) (*kenner.Model, error) {
	var m kenner.Model
	var doc []byte
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &doc, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	if err := kenner.SetModelDocument(&m, doc); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.ID, err)
	}
	return &m, nil
}

// CreateModel implements kenner.ModelStore.
func (s *Store) CreateModel(ctx context.Context, m *kenner.Model) error {
	if m.ID == "" {
		m.ID = kenner.NewID("mdl")
	}
	t := now()
	m.CreatedAt, m.UpdatedAt = t, t
	doc, err := kenner.ModelDocument(m)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO models (`+modelColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			m.ID, m.WorkspaceID, m.Name, doc, t, t)
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
	t := now()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE models SET name = $1, document = $2, updated_at = $3 WHERE workspace_id = $4 AND id = $5`,
			m.Name, doc, t, m.WorkspaceID, m.ID)
		if isUnique(err) {
			return kenner.Errorf(kenner.EConflict, "a model named %q already exists", m.Name)
		}
		if err != nil {
			return fmt.Errorf("update model: %w", err)
		}
		if res.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no model %q", m.ID)
		}
		_, err = bumpVersion(ctx, tx, m.WorkspaceID)
		return err
	})
	if err == nil {
		m.UpdatedAt = t
	}
	return err
}

// DeleteModel implements kenner.ModelStore.
func (s *Store) DeleteModel(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM model_versions WHERE workspace_id = $1 AND model_id = $2`, ws, id); err != nil {
			return fmt.Errorf("delete model: %w", err)
		}
		res, err := tx.Exec(ctx, `DELETE FROM models WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete model: %w", err)
		}
		if res.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no model %q", id)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// Model implements kenner.ModelStore.
func (s *Store) Model(ctx context.Context, ws, id string) (*kenner.Model, error) {
	m, err := scanModel(s.pool.QueryRow(ctx, `SELECT `+modelColumns+` FROM models WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no model %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// Models implements kenner.ModelStore.
func (s *Store) Models(ctx context.Context, ws string) ([]kenner.Model, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+modelColumns+` FROM models WHERE workspace_id = $1 ORDER BY name`, ws)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Model, error) {
		m, err := scanModel(r)
		if err != nil {
			return kenner.Model{}, err
		}
		return *m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	return out, nil
}

// AddModelVersion implements kenner.ModelStore.
func (s *Store) AddModelVersion(ctx context.Context, ws string, v *kenner.ModelVersion) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO model_versions (workspace_id, model_id, version, document) VALUES ($1, $2, $3, $4)`,
		ws, v.ModelID, v.Version, doc)
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
	rows, err := s.pool.Query(ctx, `SELECT document FROM model_versions WHERE workspace_id = $1 AND model_id = $2 ORDER BY version DESC`, ws, modelID)
	if err != nil {
		return nil, fmt.Errorf("model versions: %w", err)
	}
	defer rows.Close()
	var out []kenner.ModelVersion
	for rows.Next() {
		var doc []byte
		var v kenner.ModelVersion
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("model versions: %w", err)
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			return nil, fmt.Errorf("model versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
