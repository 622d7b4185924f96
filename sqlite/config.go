package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/wipe"
)

// CreateWorkspace inserts w, filling ID and CreatedAt when empty.
func (s *Store) CreateWorkspace(ctx context.Context, w *kenner.Workspace) error {
	if w.ID == "" {
		w.ID = kenner.NewID("ws")
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)`,
		w.ID, w.Name, millis(w.CreatedAt))
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, created_at FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	defer rows.Close()
	var out []kenner.Workspace
	for rows.Next() {
		var w kenner.Workspace
		var created int64
		if err := rows.Scan(&w.ID, &w.Name, &created); err != nil {
			return nil, fmt.Errorf("list workspaces: %w", err)
		}
		w.CreatedAt = fromMillis(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// CreateSource inserts src, filling ID and CreatedAt when empty.
func (s *Store) CreateSource(ctx context.Context, src *kenner.Source) error {
	if src.ID == "" {
		src.ID = kenner.NewID("src")
	}
	if src.CreatedAt.IsZero() {
		src.CreatedAt = time.Now().UTC()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sources (id, workspace_id, name, write_key_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		src.ID, src.WorkspaceID, src.Name, src.WriteKeyHash, millis(src.CreatedAt))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a source named %q already exists", src.Name)
	}
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	return nil
}

const sourceColumns = `id, workspace_id, name, write_key_hash, created_at, settings`

func scanSource(row interface{ Scan(...any) error }) (*kenner.Source, error) {
	var src kenner.Source
	var created int64
	var settings []byte
	if err := row.Scan(&src.ID, &src.WorkspaceID, &src.Name, &src.WriteKeyHash, &created, &settings); err != nil {
		return nil, err
	}
	src.CreatedAt = fromMillis(created)
	if err := json.Unmarshal(settings, &src.Settings); err != nil {
		return nil, fmt.Errorf("source %s settings: %w", src.ID, err)
	}
	return &src, nil
}

// Sources lists a workspace's sources by name.
func (s *Store) Sources(ctx context.Context, workspaceID string) ([]kenner.Source, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE workspace_id = ? ORDER BY name`, workspaceID)
	return scanAll(rows, err, "list sources", scanSource)
}

// SourceByName finds a source by its name in a workspace.
func (s *Store) SourceByName(ctx context.Context, workspaceID, name string) (*kenner.Source, error) {
	src, err := scanSource(s.r.QueryRowContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE workspace_id = ? AND name = ?`, workspaceID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no source named %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find source: %w", err)
	}
	return src, nil
}

// SourceByWriteKeyHash finds the source whose write key hashes to hash.
func (s *Store) SourceByWriteKeyHash(ctx context.Context, hash string) (*kenner.Source, error) {
	src, err := scanSource(s.r.QueryRowContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE write_key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
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
		t.CreatedAt = time.Now().UTC()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (id, workspace_id, name, role, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.WorkspaceID, t.Name, string(t.Role), t.Hash, millis(t.CreatedAt), nullMillis(t.ExpiresAt), nullMillis(t.RevokedAt))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "token already exists")
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

const tokenColumns = `id, workspace_id, name, role, hash, created_at, expires_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*kenner.Token, error) {
	var t kenner.Token
	var role string
	var created int64
	var expires, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &role, &t.Hash, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	t.Role = kenner.Role(role)
	t.CreatedAt = fromMillis(created)
	t.ExpiresAt = fromNullMillis(expires)
	t.RevokedAt = fromNullMillis(revoked)
	return &t, nil
}

// Tokens lists a workspace's tokens, oldest first, revoked ones included.
func (s *Store) Tokens(ctx context.Context, workspaceID string) ([]kenner.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE workspace_id = ? ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []kenner.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// TokenByHash finds a token by the keyed hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*kenner.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "unknown token")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

// RevokeToken marks a token revoked at time at.
func (s *Store) RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL`,
		millis(at), workspaceID, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no active token %q", id)
	}
	return nil
}

// DeleteWorkspace removes a workspace and every row it owns, in one transaction: its subject
// keys go with it, so what it left in the log can no longer be read.
func (s *Store) DeleteWorkspace(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND p.name = 'workspace_id'`)
		if err != nil {
			return err
		}
		var tables []string
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return err
			}
			tables = append(tables, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, q := range wipe.Untagged {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		for _, t := range wipe.Order(tables) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM "`+t+`" WHERE workspace_id = ?`, id); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM workspaces WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no workspace %q", id)
		}
		return nil
	})
	if err != nil && kenner.ErrorCode(err) != kenner.ENotFound {
		return fmt.Errorf("delete workspace: %w", err)
	}
	return err
}
