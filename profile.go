package kenner

import (
	"context"
	"encoding/json"
	"time"
)

// KindProfileID is the identifier kind of the profile API that names a profile by its own id
// (GET /v1/profiles/id:prf_...). It is not an identifier of the graph.
const KindProfileID = "id"

// Profile is the unified view of one person in a workspace.
type Profile struct {
	WorkspaceID string
	ID          string
	// Rank is the log position (EventRank) of the event that created the profile. The oldest
	// profile survives a merge, so every replay picks the same survivor and keeps its id.
	Rank      int64
	Traits    map[string]Trait
	Groups    map[string]Group
	FirstSeen time.Time
	LastSeen  time.Time
	// Version grows with every change; the profile API's ETag.
	Version    int64
	UpdatedAt  time.Time
	Identities []Identity // filled by reads, ignored by SaveProfiles
	// Aggregates are the states of the workspace's event aggregates (computed traits and the
	// event functions of segment conditions), by the aggregate's key.
	Aggregates map[string]*Aggregate
	// Segments are the segments the profile is in, with the time it entered.
	Segments map[string]time.Time
	// Consent is the person's latest answer per purpose (lowercase purpose names), and
	// ConsentHistory every change of an answer, oldest first.
	Consent        map[string]Consent
	ConsentHistory []ConsentChange
	// Expires is when a windowed aggregate next changes with no new event (zero: never); the
	// segment sweeper evaluates the profile again then.
	Expires time.Time
}

// Trait is one trait value with where it came from.
type Trait struct {
	Value     json.RawMessage `json:"value"`
	SourceID  string          `json:"source_id"`
	MessageID string          `json:"message_id"`
	Timestamp time.Time       `json:"timestamp"`
	// Rank breaks ties between values of the same event time: the later in the log wins.
	Rank int64 `json:"rank"`
	// Original is the value as the source sent it, when standardization changed it.
	Original json.RawMessage `json:"original,omitempty"`
}

// Consent is a person's answer for one purpose, with where it came from.
type Consent struct {
	Granted   bool      `json:"granted"`
	SourceID  string    `json:"source_id"`
	MessageID string    `json:"message_id"`
	Timestamp time.Time `json:"timestamp"`
	Rank      int64     `json:"rank"`
}

// ConsentChange is one change of a person's answer for a purpose.
type ConsentChange struct {
	Purpose string `json:"purpose"`
	Consent
}

// Group is an account (B2B) the person belongs to, from group calls.
type Group struct {
	ID        string          `json:"group_id"`
	Traits    json.RawMessage `json:"traits,omitempty"`
	SourceID  string          `json:"source_id"`
	MessageID string          `json:"message_id"`
	Timestamp time.Time       `json:"timestamp"`
	Rank      int64           `json:"rank"`
}

// Identity is an identifier attached to a profile, and the event that attached it.
type Identity struct {
	Identifier
	SourceID  string
	MessageID string
	Rank      int64
	At        time.Time // the attaching event's time
}

// Identity decisions recorded on a profile.
const (
	DecisionMerge   = "merge"   // From was merged into the profile, linked by Identifier
	DecisionProtect = "protect" // Identifier of an event was not used, so as not to break a rule
	DecisionSplit   = "split"   // the profile was split; Identifier is one of the identifiers moved out
)

// Decision is one recorded identity resolution decision, the audit trail of a profile.
type Decision struct {
	ID         int64 // store-assigned, increasing; the paging cursor
	ProfileID  string
	Action     string
	From       string // merged profile (merge) or the profile split off (split)
	Identifier Identifier
	MessageID  string
	Reason     string
	Rank       int64
	At         time.Time
}

// GraphNode is a profile as identity resolution sees it.
type GraphNode struct {
	ID          string
	Identifiers []Identifier
	Rank        int64
}

// Separation keeps two sets of identifiers apart: no profile may hold identifiers of both. A
// split records one, so that neither new events nor a replay join the halves again.
type Separation struct {
	A []Identifier
	B []Identifier
}

// Graph is the part of a workspace's identity graph some identifiers touch: their owners, all
// identifiers of those owners, and the separations that involve any of them.
type Graph struct {
	Owners      map[Identifier]string
	Profiles    map[string]GraphNode
	Separations []Separation
}

// Merge moves everything of profile From to Into, which survives.
type Merge struct {
	Into string
	From string
}

// GraphChanges is what one batch did to a workspace's identity graph, in the order a store
// applies it: create the profiles, apply the merges, then attach the new identities.
type GraphChanges struct {
	Created    []GraphNode
	Merges     []Merge
	Identities map[string][]Identity // new identities by owning profile
	Decisions  []Decision
}

// EventRank packs an event's place in the log into one ordered integer: seq << 16 | index (a
// log record holds fewer than 65536 events).
func EventRank(seq uint64, index int) int64 { return int64(seq<<16 | uint64(index&0xffff)) }

// ApplyFunc does the work of one processing transaction.
type ApplyFunc func(ctx context.Context, b Batch) error

// Batch is the store's side of one processing transaction: everything fn of Apply reads and
// writes commits together with the consumer's position, or not at all. Reads lock what they
// read for the rest of the transaction, so that concurrent processors (several nodes on
// PostgreSQL) never both change one profile.
type Batch interface {
	// KnownMessages returns which of messageIDs are already stored in the workspace.
	KnownMessages(ctx context.Context, workspaceID string, messageIDs []string) (map[string]bool, error)
	// LoadGraph returns the part of the graph ids touch, and locks its profiles.
	LoadGraph(ctx context.Context, workspaceID string, ids []Identifier) (Graph, error)
	// LoadProfiles returns the profiles with these ids that exist (Identities not filled).
	LoadProfiles(ctx context.Context, workspaceID string, ids []string) (map[string]*Profile, error)
	// WriteGraph applies changes: a merged profile's identities, events and decisions move to
	// the survivor, and lookups by its id answer the survivor from then on.
	WriteGraph(ctx context.Context, workspaceID string, c GraphChanges) error
	// SaveProfiles writes profiles (traits, groups, seen times) and bumps their versions.
	SaveProfiles(ctx context.Context, profiles []*Profile) error
	// InsertEvents stores events (with their ProfileID) unless their message id is known;
	// of two copies of a message id the one earliest in the log is kept, with the profile of
	// the first one stored. It returns how many were new.
	InsertEvents(ctx context.Context, events []Event) (int, error)
	// AddSeparation records a separation; it survives ResetDerived, like configuration.
	AddSeparation(ctx context.Context, workspaceID string, s Separation) error
	// ResetProfile deletes a profile, the profiles merged into it, their identities and
	// decisions, and returns their events in log order with ProfileID cleared, for a split to
	// resolve again. The profile's segment memberships stay: the split evaluates the profile
	// again and changes only the memberships that really change.
	ResetProfile(ctx context.Context, workspaceID, id string) ([]Event, error)
	// AssignEvents sets the ProfileID of stored events (by message id).
	AssignEvents(ctx context.Context, events []Event) error
	// AddDecisions records decisions.
	AddDecisions(ctx context.Context, workspaceID string, d []Decision) error

	IdentityGuardBatch
	AudienceBatch
	DeliveryBatch
	JourneyBatch
}

// ProfileStore keeps the profiles and the identity graph.
type ProfileStore interface {
	// Apply runs fn in one transaction and records pos with it (pos.Consumer "" records
	// nothing). A failed fn or commit leaves nothing behind and returns the error. When the
	// consumer's stored position is already at pos.Seq or later, the batch was applied (by
	// this process before a restart, or by another node) and fn is not run.
	Apply(ctx context.Context, pos Position, fn ApplyFunc) error
	// Profile finds a profile by any identifier, or by its id (kind "id", which also finds a
	// profile merged away and answers the survivor), with its identities.
	Profile(ctx context.Context, workspaceID string, id Identifier) (*Profile, error)
	// ProfileState is Profile without the identities: the state alone, for a read on a hot
	// path (a personalization decision) that does not show them.
	ProfileState(ctx context.Context, workspaceID string, id Identifier) (*Profile, error)
	// Decisions lists a profile's identity decisions, newest first, after cursor (0: from the
	// newest); it returns the next cursor (0 at the end).
	Decisions(ctx context.Context, workspaceID, profileID string, after int64, limit int) ([]Decision, int64, error)
	// IdentityOwners answers the profile holding each identifier (those no profile holds are
	// absent): a reader that keeps identifiers, not profiles (analytics), joins them with it.
	IdentityOwners(ctx context.Context, workspaceID string, ids []Identifier) (map[Identifier]string, error)
	// ScanIdentities lists a workspace's identifiers with their profiles, in (kind, value)
	// order after the cursor (zero: from the start).
	ScanIdentities(ctx context.Context, workspaceID string, after Identifier, limit int) ([]IdentityOwner, error)
}

// IdentityOwner is an identifier and the profile holding it.
type IdentityOwner struct {
	Identifier
	ProfileID string
}

// ProfileFields names the parts of a profile a reader needs, so that a pass over every
// profile (a segment's build, a preview) decodes only those: decoding profile documents is
// most of such a pass's time. A profile read this way is a view for evaluation, never to be
// saved: it holds its id, its memberships and what the fields name, nothing else.
type ProfileFields struct {
	AllTraits  bool
	Traits     map[string]bool
	Aggregates map[string]bool // by aggregate key
	Consent    bool
	Groups     bool
}
