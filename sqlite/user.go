package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

const userColumns = `id, workspace_id, email, name, role, password_hash, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*kenner.User, error) {
	var u kenner.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &role, &u.PasswordHash, &created, &updated); err != nil {
		return nil, err
	}
	u.Role, u.CreatedAt, u.UpdatedAt = kenner.Role(role), fromMillis(created), fromMillis(updated)
	return &u, nil
}

// CreateUser implements kenner.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *kenner.User) error {
	if u.ID == "" {
		u.ID = kenner.NewID("usr")
	}
	now := time.Now().UTC()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = u.CreatedAt
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.WorkspaceID, u.Email, u.Name, string(u.Role), u.PasswordHash, millis(u.CreatedAt), millis(u.UpdatedAt))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a user with the email %s exists", u.Email)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// Users implements kenner.UserStore.
func (s *Store) Users(ctx context.Context, ws string) ([]kenner.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE workspace_id = ? ORDER BY email`, ws)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []kenner.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// User implements kenner.UserStore.
func (s *Store) User(ctx context.Context, ws, id string) (*kenner.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no user %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// UserByEmail implements kenner.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*kenner.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no user with that email")
	}
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// SetUserPassword implements kenner.UserStore.
func (s *Store) SetUserPassword(ctx context.Context, ws, id, hash string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`, hash, millis(time.Now()), ws, id)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no user %q", id)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		return err
	})
}

// DeleteUser implements kenner.UserStore.
func (s *Store) DeleteUser(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no user %q", id)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		return err
	})
}

// CreateSession implements kenner.UserStore.
func (s *Store) CreateSession(ctx context.Context, se *kenner.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, workspace_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		se.Hash, se.UserID, se.WorkspaceID, se.CSRF, millis(se.CreatedAt), millis(se.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash implements kenner.UserStore.
func (s *Store) SessionByHash(ctx context.Context, hash string, now time.Time) (*kenner.Session, error) {
	var se kenner.Session
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT hash, user_id, workspace_id, csrf, created_at, expires_at FROM sessions WHERE hash = ? AND expires_at > ?`,
		hash, millis(now)).Scan(&se.Hash, &se.UserID, &se.WorkspaceID, &se.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no such session")
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &se, nil
}

// DeleteSession implements kenner.UserStore.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
