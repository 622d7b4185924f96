package kenner

import (
	"context"
	"time"
)

// BlockedIdentifier is an identifier value the shared-value guard stopped using: it was
// presented by more people (profiles with their own user ids) than the guard allows, like a
// shop's own email typed at the till or a shared landline, so it identifies no one. Allowed
// is an operator's decision to use it again; the guard does not block it a second time.
type BlockedIdentifier struct {
	WorkspaceID string `json:"-"`
	Identifier
	Profiles  int       `json:"profiles"` // distinct people that presented it when it was blocked
	Allowed   bool      `json:"allowed"`
	CreatedAt time.Time `json:"created_at"`
}

// IdentityGuardStore keeps the shared-value guard's list. It is configuration-like: it
// survives ResetDerived, so that a replay neither forgets a block nor an operator's allow.
type IdentityGuardStore interface {
	// BlockedIdentifiers lists a workspace's guarded identifiers ("": every workspace's),
	// blocked and allowed, newest first.
	BlockedIdentifiers(ctx context.Context, workspaceID string) ([]BlockedIdentifier, error)
	// AllowIdentifier lets a blocked identifier identify again (ENotFound when it is not
	// on the list).
	AllowIdentifier(ctx context.Context, workspaceID string, id Identifier) error
}

// IdentityGuardBatch is the guard's part of a processing transaction.
type IdentityGuardBatch interface {
	// ProtectedProfiles counts the distinct profiles that hold a protect decision naming id:
	// the people whose events presented it while another person held it.
	ProtectedProfiles(ctx context.Context, workspaceID string, id Identifier) (int, error)
	// BlockIdentifier adds b to the list unless it is there (blocked or allowed).
	BlockIdentifier(ctx context.Context, workspaceID string, b BlockedIdentifier) error
}
