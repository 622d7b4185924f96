package kenner

import (
	"context"
	"time"
)

// Store holds the derived state and the configuration (workspaces, sources, tokens) and serves
// reads. Every implementation passes the conformance suite in package storetest.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	CreateWorkspace(ctx context.Context, w *Workspace) error
	Workspaces(ctx context.Context) ([]Workspace, error)
	// DeleteWorkspace removes a workspace and everything it owns (ENotFound when unknown).
	DeleteWorkspace(ctx context.Context, id string) error

	CreateSource(ctx context.Context, s *Source) error
	Sources(ctx context.Context, workspaceID string) ([]Source, error)
	SourceByName(ctx context.Context, workspaceID, name string) (*Source, error)
	SourceByWriteKeyHash(ctx context.Context, hash string) (*Source, error)

	CreateToken(ctx context.Context, t *Token) error
	Tokens(ctx context.Context, workspaceID string) ([]Token, error)
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	RevokeToken(ctx context.Context, workspaceID, id string, at time.Time) error

	EventStore
	ProfileStore
	AudienceStore
	DestinationStore
	PrivacyStore
	ImportStore
	SourceSettingsStore
	IdentityGuardStore
	UserStore
	SlotStore
	ModelStore
	JourneyStore
	MatchStore
	SpendStore
	ReportStore
	SyncStore
}

// EventStore keeps accepted raw events, deduplicated by message id per workspace. Events are
// written by ProfileStore.Apply, together with what they do to profiles.
type EventStore interface {
	// Position is where the named consumer stopped in a partition (0 when it never ran).
	Position(ctx context.Context, consumer string, partition int) (uint64, error)
	// ClaimPosition records that the holder of lease epoch now owns a consumer's partition,
	// so that writes of older epochs are refused from now on, and returns the position to
	// resume from (EFenced when a newer epoch has claimed it already).
	ClaimPosition(ctx context.Context, consumer string, partition int, epoch uint64) (uint64, error)
	// Events lists events newest first and returns the cursor of the next page ("" at the end).
	Events(ctx context.Context, f EventFilter) ([]Event, string, error)
	// EventBodies reads the bodies of stored events by their place in the log (EventRank);
	// events not stored (erased, retained no longer) are absent.
	EventBodies(ctx context.Context, workspaceID string, ranks []int64) (map[int64][]byte, error)
	// ResetDerived deletes everything derived from the log, and the processor's positions, so
	// that reading the log again from the start rebuilds it (kenner replay). Configuration
	// (workspaces, sources, tokens, destinations and their queues) is kept, and so are the
	// positions of activation ("activation.*"), whose deliveries are not derived.
	ResetDerived(ctx context.Context) error
}

// FencedError is the refusal of a write under lease pos.Epoch after epoch held took over.
func FencedError(pos Position, held uint64) error {
	return Errorf(EFenced, "partition %d of %s is held under lease %d, newer than this writer's %d", pos.Partition, pos.Consumer, held, pos.Epoch)
}

// Position is a consumer's progress in one partition of the log.
type Position struct {
	Consumer  string
	Partition int
	Seq       uint64
	// Epoch is the fencing token of the writer's lease on the partition (0: none, a single
	// node): a store holding a newer epoch for the partition refuses the write (EFenced).
	Epoch uint64
}
