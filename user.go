package kenner

import (
	"context"
	"time"
)

// User is a person who signs in to the console with an email and a password. Users carry
// the same roles as API tokens, with the same masking of personal data.
type User struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"-"`
	Email        string    `json:"email"` // lowercased; unique across the deployment
	Name         string    `json:"name,omitempty"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Session is a signed-in console user: a random secret in an HttpOnly cookie, stored only as
// a keyed hash, with the token that every form carries against cross-site request forgery.
type Session struct {
	Hash        string
	UserID      string
	WorkspaceID string
	CSRF        string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// UserStore keeps console users and their sessions.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error // EConflict when the email is taken
	Users(ctx context.Context, workspaceID string) ([]User, error)
	User(ctx context.Context, workspaceID, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// SetUserPassword replaces a user's password hash and ends every session of theirs.
	SetUserPassword(ctx context.Context, workspaceID, id, hash string) error
	// DeleteUser removes a user and their sessions.
	DeleteUser(ctx context.Context, workspaceID, id string) error

	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns an unexpired session (ENotFound otherwise).
	SessionByHash(ctx context.Context, hash string, now time.Time) (*Session, error)
	DeleteSession(ctx context.Context, hash string) error
}
