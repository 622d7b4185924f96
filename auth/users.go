package auth

import (
	"context"
	"crypto/rand"
	"net/mail"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kenner-cdp/kenner"
)

// purposeSession is the keyed-hash purpose of console session secrets.
const purposeSession = "console-session"

// MinPasswordLength is the shortest password a console user may have.
const MinPasswordLength = 10

// SessionTTL is how long a console session lasts without signing in again.
const SessionTTL = 12 * time.Hour

// bcryptCost is bcrypt's work factor: about 50 ms per check on this kind of machine, which
// makes a stolen hash slow to guess and a login still quick.
const bcryptCost = 11

// Users creates console users, checks their passwords and keeps their sessions.
type Users struct {
	store  kenner.UserStore
	hasher *Hasher
	now    func() time.Time
	// dummy is compared against when an email is unknown, so that a login takes as long
	// whether or not the account exists; made on the first login (a bcrypt hash costs tens
	// of milliseconds, which every CLI command would pay otherwise).
	dummyOnce sync.Once
	dummy     []byte
}

// NewUsers returns the console users' service.
func NewUsers(store kenner.UserStore, hasher *Hasher) *Users {
	return &Users{store: store, hasher: hasher, now: time.Now}
}

// CheckPassword says whether a password is acceptable.
func CheckPassword(password string) error {
	if len(password) < MinPasswordLength {
		return kenner.Errorf(kenner.EInvalid, "the password must have at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return kenner.Errorf(kenner.EInvalid, "the password must have at most 72 bytes")
	}
	return nil
}

// Create adds a user with a password (a random one when empty) and returns the password.
func (u *Users) Create(ctx context.Context, ws, email, name string, role kenner.Role, password string) (*kenner.User, string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, "", kenner.Errorf(kenner.EInvalid, "%q is not an email address", email)
	}
	if !role.Valid() {
		return nil, "", kenner.Errorf(kenner.EInvalid, "role must be one of owner, admin, marketer, analyst, viewer")
	}
	if password == "" {
		password = RandomPassword()
	}
	if err := CheckPassword(password); err != nil {
		return nil, "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return nil, "", err
	}
	user := &kenner.User{WorkspaceID: ws, Email: email, Name: strings.TrimSpace(name), Role: role, PasswordHash: string(hash)}
	if err := u.store.CreateUser(ctx, user); err != nil {
		return nil, "", err
	}
	return user, password, nil
}

// SetPassword replaces a user's password (a random one when empty), ending their sessions,
// and returns it.
func (u *Users) SetPassword(ctx context.Context, ws, id, password string) (string, error) {
	if password == "" {
		password = RandomPassword()
	}
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", err
	}
	return password, u.store.SetUserPassword(ctx, ws, id, string(hash))
}

// errLogin is the one answer to a failed login: it does not say whether the email exists.
var errLogin = kenner.Errorf(kenner.EUnauthorized, "wrong email or password")

// Login checks an email and password and returns the user.
func (u *Users) Login(ctx context.Context, email, password string) (*kenner.User, error) {
	user, err := u.store.UserByEmail(ctx, email)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		u.dummyOnce.Do(func() { u.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password anyone has"), bcryptCost) })
		bcrypt.CompareHashAndPassword(u.dummy, []byte(password))
		return nil, errLogin
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(user.PasswordHash), []byte(password)) != nil {
		return nil, errLogin
	}
	return user, nil
}

// StartSession creates a session for user and returns the secret for its cookie.
func (u *Users) StartSession(ctx context.Context, user *kenner.User) (string, *kenner.Session, error) {
	secret := "ks_" + rand.Text()
	now := u.now().UTC()
	se := &kenner.Session{Hash: u.hasher.Hash(purposeSession, secret), UserID: user.ID, WorkspaceID: user.WorkspaceID,
		CSRF: rand.Text(), CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := u.store.CreateSession(ctx, se); err != nil {
		return "", nil, err
	}
	return secret, se, nil
}

// Session returns the session and user a cookie's secret names (EUnauthorized otherwise).
func (u *Users) Session(ctx context.Context, secret string) (*kenner.Session, *kenner.User, error) {
	if secret == "" {
		return nil, nil, kenner.Errorf(kenner.EUnauthorized, "not signed in")
	}
	se, err := u.store.SessionByHash(ctx, u.hasher.Hash(purposeSession, secret), u.now())
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil, nil, kenner.Errorf(kenner.EUnauthorized, "the session ended: sign in again")
	}
	if err != nil {
		return nil, nil, err
	}
	user, err := u.store.User(ctx, se.WorkspaceID, se.UserID)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil, nil, kenner.Errorf(kenner.EUnauthorized, "the user no longer exists")
	}
	return se, user, err
}

// EndSession signs a cookie's session out.
func (u *Users) EndSession(ctx context.Context, secret string) error {
	return u.store.DeleteSession(ctx, u.hasher.Hash(purposeSession, secret))
}

// RandomPassword is a password to hand out once: 26 random base-32 characters.
func RandomPassword() string { return rand.Text() }
