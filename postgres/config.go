package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/wipe"
)

// CreateWorkspace inserts w, filling ID and CreatedAt when empty.
func (s *Store) CreateWorkspace(ctx context.Context, w *kenner.Workspace) error {
	if w.ID == "" {
		w.ID = kenner.NewID("ws")
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)`, w.ID, w.Name, w.CreatedAt)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "workspace %q already exists", w.ID)
	}
	if err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	return nil
}

// Workspaces lists all workspaces, oldest first.
func (s *Store) Workspaces(ctx context.Context) ([]kenner.Workspace, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Workspace, error) {
		var w kenner.Workspace
		err := r.Scan(&w.ID, &w.Name, &w.CreatedAt)
		w.CreatedAt = utc(w.CreatedAt)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// CreateSource inserts src, filling ID and CreatedAt when empty.
func (s *Store) CreateSource(ctx context.Context, src *kenner.Source) error {
	if src.ID == "" {
		src.ID = kenner.NewID("src")
	}
	if src.CreatedAt.IsZero() {
		src.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sources (id, workspace_id, name, write_key_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		src.ID, src.WorkspaceID, src.Name, src.WriteKeyHash, src.CreatedAt)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a source named %q already exists", src.Name)
	}
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	return nil
}

const sourceColumns = `id, workspace_id, name, write_key_hash, created_at, settings`

func scanSource(row pgx.Row) (*kenner.Source, error) {
	var src kenner.Source
	var settings []byte
	if err := row.Scan(&src.ID, &src.WorkspaceID, &src.Name, &src.WriteKeyHash, &src.CreatedAt, &settings); err != nil {
		return nil, err
	}
	src.CreatedAt = utc(src.CreatedAt)
	if err := json.Unmarshal(settings, &src.Settings); err != nil {
		return nil, fmt.Errorf("source %s settings: %w", src.ID, err)
	}
	return &src, nil
}

// Sources lists a workspace's sources by name.
func (s *Store) Sources(ctx context.Context, workspaceID string) ([]kenner.Source, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sourceColumns+` FROM sources WHERE workspace_id = $1 ORDER BY name`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Source, error) {
		src, err := scanSource(r)
		if err != nil {
			return kenner.Source{}, err
		}
		return *src, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	return out, nil
}

// SourceByName finds a source by its name in a workspace.
func (s *Store) SourceByName(ctx context.Context, workspaceID, name string) (*kenner.Source, error) {
	src, err := scanSource(s.pool.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE workspace_id = $1 AND name = $2`, workspaceID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no source named %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find source: %w", err)
	}
	return src, nil
}

// SourceByWriteKeyHash finds the source whose write key hashes to hash.
func (s *Store) SourceByWriteKeyHash(ctx context.Context, hash string) (*kenner.Source, error) {
	src, err := scanSource(s.pool.QueryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE write_key_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "unknown write key")
	}
	if err != nil {
		return nil, fmt.Errorf("find source: %w", err)
	}
	return src, nil
}

// CreateToken inserts t, filling ID and CreatedAt when empty.
func (s *Store) CreateToken(ctx context.Context, t *kenner.Token) error {
	if t.ID == "" {
		t.ID = kenner.NewID("tok")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, workspace_id, name, role, hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.WorkspaceID, t.Name, string(t.Role), t.Hash, t.CreatedAt, t.ExpiresAt, t.RevokedAt)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "token already exists")
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

const tokenColumns = `id, workspace_id, name, role, hash, created_at, expires_at, revoked_at`

func scanToken(row pgx.Row) (*kenner.Token, error) {
	var t kenner.Token
	var role string
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &role, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.Role = kenner.Role(role)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = utc(t.CreatedAt), utcPtr(t.ExpiresAt), utcPtr(t.RevokedAt)
	return &t, nil
}

// Tokens lists a workspace's tokens, oldest first, revoked ones included.
func (s *Store) Tokens(ctx context.Context, workspaceID string) ([]kenner.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE workspace_id = $1 ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Token, error) {
		t, err := scanToken(r)
		if err != nil {
			return kenner.Token{}, err
		}
		return *t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// TokenByHash finds a token by the keyed hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*kenner.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "unknown token")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// RevokeToken marks a token revoked at time at.
func (s *Store) RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL`, at.UTC(), workspaceID, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "no active token %q", id)
	}
	return nil
}

// DeleteWorkspace removes a workspace and every row it owns, in one transaction: its subject
// keys go with it, so what it left in the log can no longer be read.
func (s *Store) DeleteWorkspace(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.table_name::text FROM information_schema.columns c
			JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = to_regnamespace(c.table_schema)
			WHERE c.table_schema = current_schema() AND c.column_name = 'workspace_id' AND k.relkind IN ('r', 'p') AND NOT k.relispartition`)
		if err != nil {
			return err
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, q := range wipe.Untagged {
			if _, err := tx.Exec(ctx, wipe.Dollar(q), id); err != nil {
				return err
			}
		}
		for _, t := range wipe.Order(tables) {
			if _, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{t}.Sanitize()+` WHERE workspace_id = $1`, id); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no workspace %q", id)
		}
		return nil
	})
	if err != nil && kenner.ErrorCode(err) != kenner.ENotFound {
		return fmt.Errorf("delete workspace: %w", err)
	}
	return err
}
