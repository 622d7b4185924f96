package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Purposes of keyed hashes; changing one invalidates every stored credential of that kind.
const (
	purposeWriteKey = "write-key"
	purposeToken    = "api-token"
)

// Store is what the credentials service needs from the store.
type Store interface {
	CreateSource(ctx context.Context, s *kenner.Source) error
	SourceByWriteKeyHash(ctx context.Context, hash string) (*kenner.Source, error)
	SourceByID(ctx context.Context, id string) (*kenner.Source, error)
	CreateToken(ctx context.Context, t *kenner.Token) error
	TokenByHash(ctx context.Context, hash string) (*kenner.Token, error)
	RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error
}

// cacheTTL bounds how long a revoked token may still work on another node of a cluster; on the
// node that revoked it, it stops at once.
const cacheTTL = 10 * time.Second

// Service creates credentials and resolves presented ones, with a short cache so that the
// tracking hot path does not query the store on every request.
type Service struct {
	store  Store
	hasher *Hasher
	now    func() time.Time

	mu      sync.Mutex
	sources map[string]cached[*kenner.Source]
	byID    map[string]cached[*kenner.Source]
	tokens  map[string]cached[*kenner.Token]
}

type cached[T any] struct {
	v   T
	err error
	at  time.Time
}

// NewService returns a Service over store, hashing with hasher.
func NewService(store Store, hasher *Hasher) *Service {
	return &Service{store: store, hasher: hasher, now: time.Now,
		sources: map[string]cached[*kenner.Source]{}, byID: map[string]cached[*kenner.Source]{}, tokens: map[string]cached[*kenner.Token]{}}
}

// Hasher is the keyed hash credentials are stored under.
func (s *Service) Hasher() *Hasher { return s.hasher }

// CreateSource creates a source and returns it with its write key, which is not stored and
// cannot be shown again.
func (s *Service) CreateSource(ctx context.Context, workspaceID, name string) (*kenner.Source, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, "", kenner.Errorf(kenner.EInvalid, "source name must be 1 to 100 characters")
	}
	key := kenner.NewSecret("wk")
	src := &kenner.Source{WorkspaceID: workspaceID, Name: name, WriteKeyHash: s.hasher.Hash(purposeWriteKey, key)}
	if err := s.store.CreateSource(ctx, src); err != nil {
		return nil, "", err
	}
	return src, key, nil
}

// CreateToken creates an API token and returns it with its secret, shown only this once.
func (s *Service) CreateToken(ctx context.Context, workspaceID, name string, role kenner.Role, expires *time.Time) (*kenner.Token, string, error) {
	if !role.Valid() {
		return nil, "", kenner.Errorf(kenner.EInvalid, "role must be one of owner, admin, marketer, analyst, viewer")
	}
	if expires != nil && !expires.After(s.now()) {
		return nil, "", kenner.Errorf(kenner.EInvalid, "expires_at is in the past")
	}
	if name == "" {
		name = string(role)
	}
	secret := kenner.NewSecret("kt")
	t := &kenner.Token{WorkspaceID: workspaceID, Name: name, Role: role, Hash: s.hasher.Hash(purposeToken, secret), ExpiresAt: expires}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// RevokeToken revokes a token; on this node it stops working at once.
func (s *Service) RevokeToken(ctx context.Context, workspaceID, id string) error {
	if err := s.store.RevokeToken(ctx, workspaceID, id, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
	return nil
}

// Source returns the source a write key belongs to, or an unauthorized error.
func (s *Service) Source(ctx context.Context, writeKey string) (*kenner.Source, error) {
	if writeKey == "" {
		return nil, kenner.Errorf(kenner.EUnauthorized, "missing write key: send it as the HTTP Basic user name or as writeKey in the body")
	}
	// The cache is keyed by the presented key itself, which spares the tracking hot path an
	// HMAC per request; the key is in this process's memory while the request is anyway.
	src, err := lookup(ctx, s, s.sources, writeKey, func(ctx context.Context, key string) (*kenner.Source, error) {
		return s.store.SourceByWriteKeyHash(ctx, s.hasher.Hash(purposeWriteKey, key))
	})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil, kenner.Errorf(kenner.EUnauthorized, "invalid write key")
	}
	return src, err
}

// SourceByID returns a source by its id (a webhook URL names it), or an unauthorized error.
func (s *Service) SourceByID(ctx context.Context, id string) (*kenner.Source, error) {
	src, err := lookup(ctx, s, s.byID, id, s.store.SourceByID)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		// The same answer as a bad key, so that source ids cannot be probed.
		return nil, kenner.Errorf(kenner.EUnauthorized, "unknown webhook source or invalid credentials")
	}
	return src, err
}

// SourceChanged drops cached sources after a source's settings changed, so that this node
// applies them at once; other nodes of a cluster do within cacheTTL.
func (s *Service) SourceChanged() {
	s.mu.Lock()
	clear(s.sources)
	clear(s.byID)
	s.mu.Unlock()
}

// Token returns the active token for a presented secret, or an unauthorized error.
func (s *Service) Token(ctx context.Context, secret string) (*kenner.Token, error) {
	if secret == "" {
		return nil, kenner.Errorf(kenner.EUnauthorized, "missing token: send Authorization: Bearer <token>")
	}
	t, err := lookup(ctx, s, s.tokens, secret, func(ctx context.Context, secret string) (*kenner.Token, error) {
		return s.store.TokenByHash(ctx, s.hasher.Hash(purposeToken, secret))
	})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil, kenner.Errorf(kenner.EUnauthorized, "invalid token")
	}
	if err != nil {
		return nil, err
	}
	if !t.Active(s.now()) {
		return nil, kenner.Errorf(kenner.EUnauthorized, "token expired or revoked")
	}
	return t, nil
}

// lookup reads through the cache. Misses are cached too, so that a flood of bad keys does not
// become a flood of store queries.
func lookup[T any](ctx context.Context, s *Service, cache map[string]cached[T], key string, load func(context.Context, string) (T, error)) (T, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := cache[key]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < cacheTTL {
		return c.v, c.err
	}
	v, err := load(ctx, key)
	if err != nil && kenner.ErrorCode(err) != kenner.ENotFound {
		var zero T
		return zero, err
	}
	s.mu.Lock()
	if len(cache) > 100_000 {
		clear(cache)
	}
	cache[key] = cached[T]{v: v, err: err, at: now}
	s.mu.Unlock()
	return v, err
}
