package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

const userColumns = `id, workspace_id, email, name, role, password_hash, created_at, updated_at`

func scanUser(row pgx.Row) (*kenner.User, error) {
	var u kenner.User
	var role string
	if err := row.Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &role, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Role, u.CreatedAt, u.UpdatedAt = kenner.Role(role), u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// CreateUser implements kenner.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *kenner.User) error {
	if u.ID == "" {
		u.ID = kenner.NewID("usr")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now().UTC()
	}
	u.UpdatedAt = u.CreatedAt
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.WorkspaceID, u.Email, u.Name, string(u.Role), u.PasswordHash, u.CreatedAt, u.UpdatedAt)
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
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE workspace_id = $1 ORDER BY email`, ws)
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
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no user %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// UserByEmail implements kenner.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*kenner.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no user with that email")
	}
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// SetUserPassword implements kenner.UserStore.
func (s *Store) SetUserPassword(ctx context.Context, ws, id, hash string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = now() WHERE workspace_id = $2 AND id = $3`, hash, ws, id)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no user %q", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

// DeleteUser implements kenner.UserStore.
func (s *Store) DeleteUser(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no user %q", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

// CreateSession implements kenner.UserStore.
func (s *Store) CreateSession(ctx context.Context, se *kenner.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, workspace_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		se.Hash, se.UserID, se.WorkspaceID, se.CSRF, se.CreatedAt, se.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash implements kenner.UserStore.
func (s *Store) SessionByHash(ctx context.Context, hash string, now time.Time) (*kenner.Session, error) {
	var se kenner.Session
	err := s.pool.QueryRow(ctx, `SELECT hash, user_id, workspace_id, csrf, created_at, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2`,
		hash, now).Scan(&se.Hash, &se.UserID, &se.WorkspaceID, &se.CSRF, &se.CreatedAt, &se.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no such session")
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt = se.CreatedAt.UTC(), se.ExpiresAt.UTC()
	return &se, nil
}

// DeleteSession implements kenner.UserStore.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
