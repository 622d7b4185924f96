package kenner

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"
)

// PrivacyStore keeps what data subject rights need: the per-person keys that encrypt events
// in the log (destroying one makes that person's log entries unreadable: crypto-shredding),
// the suppression list of erased identifiers, erasure requests and the audit log.
type PrivacyStore interface {
	// SubjectKeys returns the stored (wrapped) keys of the subjects it has.
	SubjectKeys(ctx context.Context, workspaceID string, subjects []string) (map[string][]byte, error)
	// PutSubjectKeys stores keys for subjects that have none and returns the key each subject
	// has afterwards: when two nodes create one subject's key at once, both use the first.
	PutSubjectKeys(ctx context.Context, workspaceID string, keys map[string][]byte) (map[string][]byte, error)
	// ReplaceSubjectKey swaps a subject's stored key for next, if it is still old (a
	// compare-and-swap: EConflict when another node changed it first, ENotFound when absent).
	ReplaceSubjectKey(ctx context.Context, workspaceID, subject string, old, next []byte) error
	// Suppressions lists the suppressed identifier hashes of every workspace after a cursor
	// (0: from the start), oldest first, with the cursor of the last one.
	Suppressions(ctx context.Context, after int64, limit int) ([]Suppression, int64, error)
	// WorkspaceSuppressions lists one workspace's suppressions, newest first, after a cursor
	// (0: from the newest), with the cursor of the next page (0: none).
	WorkspaceSuppressions(ctx context.Context, workspaceID string, after int64, limit int) ([]Suppression, int64, error)
	// LiftSuppression removes a suppression (ENotFound when the hash is not suppressed), so
	// that a person who comes back after an erasure is let in again.
	LiftSuppression(ctx context.Context, workspaceID, hash string) error

	// ProfileFootprint returns the ids of a profile and of the profiles merged into it, with
	// their identifiers: what an erasure of the profile removes.
	ProfileFootprint(ctx context.Context, workspaceID, profileID string) ([]string, []Identifier, error)
	// Erase removes, in one transaction, the profiles, their identities, events, decisions,
	// memberships, changes and deliveries, destroys the subject keys and suppresses the
	// hashes of the plan, and returns how many rows of each kind went.
	Erase(ctx context.Context, workspaceID string, plan ErasePlan) (map[string]int64, error)
	// SaveErasure creates or updates an erasure request.
	SaveErasure(ctx context.Context, e *Erasure) error
	Erasure(ctx context.Context, workspaceID, id string) (*Erasure, error)
	// Erasures lists a workspace's erasure requests newest first, from after (a cursor of
	// ErasureCursor; "" for the newest).
	Erasures(ctx context.Context, workspaceID, after string, limit int) ([]Erasure, error)

	// ExpireEvents removes up to limit stored events of the workspace that x selects and
	// returns how many went; ExpireAudit does the same for audit entries older than before,
	// in every workspace.
	ExpireEvents(ctx context.Context, workspaceID string, x Expiry, limit int) (int64, error)
	ExpireAudit(ctx context.Context, before time.Time, limit int) (int64, error)

	// AppendAudit records an admin action; Audit lists them newest first.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Expiry selects the events a retention rule removes: those with an event time before Before,
// of Type and of Name when they are set, and not of the types and names in ExceptTypes and
// ExceptNames (classes with rules of their own).
type Expiry struct {
	Before      time.Time
	Type        string
	Name        string
	ExceptTypes []string
	ExceptNames []string
}

// Suppression is an erased identifier, kept as a keyed hash so that the list itself holds no
// personal data.
type Suppression struct {
	Seq         int64     `json:"seq"`
	WorkspaceID string    `json:"-"`
	Kind        string    `json:"kind"` // the identifier's kind (user_id, email, ...)
	Hash        string    `json:"hash"`
	CreatedAt   time.Time `json:"created_at"`
}

// ErasePlan is what one erasure removes.
type ErasePlan struct {
	ProfileIDs  []string
	Identifiers []Identifier
	// SubjectKeys are the ids of the log keys to destroy; Suppress the identifier hashes to
	// add to the suppression list.
	SubjectKeys []string
	Suppress    []Suppression // Kind and Hash
}

// Erasure states.
const (
	ErasurePending = "pending"
	ErasureDone    = "done"
	ErasureFailed  = "failed"
)

// Erasure is a request to forget a person, with its outcome. It names the person by profile
// id only, so that the record of the erasure keeps no personal data.
type Erasure struct {
	ID          string           `json:"id"`
	WorkspaceID string           `json:"-"`
	ProfileID   string           `json:"profile_id"`
	Status      string           `json:"status"`
	RequestedBy string           `json:"requested_by"`
	Removed     map[string]int64 `json:"removed,omitempty"`
	Error       string           `json:"error,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	DoneAt      *time.Time       `json:"done_at,omitempty"`
}

// AuditEntry is one admin action or data subject request: who, what, when, from where.
type AuditEntry struct {
	ID          int64     `json:"id"`
	WorkspaceID string    `json:"-"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"` // token id, or "cli"
	Role        Role      `json:"role,omitempty"`
	Action      string    `json:"action"` // e.g. "DELETE /v1/profiles/{ref}"
	Target      string    `json:"target,omitempty"`
	Status      int       `json:"status"`
	RemoteAddr  string    `json:"remote_addr,omitempty"`
}

// AuditFilter selects audit entries: by actor and action when set, with ids below Before
// (0: the newest), at most Limit.
type AuditFilter struct {
	WorkspaceID string
	Actor       string
	Action      string
	Before      int64
	Limit       int
}

// NewestFirstFrom answers the Seq a newest-first page reads below: the cursor a previous page
// answered, or past every row when there is none (0). Both stores start pages this way.
func NewestFirstFrom(cursor int64) int64 {
	if cursor <= 0 {
		return math.MaxInt64
	}
	return cursor
}

// PageBySeq cuts a page read with one row more than limit (newest first) to limit, and
// answers the cursor of the next page: the last row's Seq, or 0 on the last page. Both stores
// page suppressions this way.
func PageBySeq(rows []Suppression, limit int, err error) ([]Suppression, int64, error) {
	if err != nil {
		return nil, 0, err
	}
	if len(rows) <= limit {
		return rows, 0, nil
	}
	rows = rows[:limit]
	return rows, rows[len(rows)-1].Seq, nil
}

// ErasureCursor is where a page of erasures ends: the next page starts after it. Erasures
// are ordered by creation time, then id, both stores the same way.
func ErasureCursor(e Erasure) string {
	return strconv.FormatInt(e.CreatedAt.UnixMilli(), 10) + "." + e.ID
}

// ParseErasureCursor reads a cursor of ErasureCursor ("" is the start: the newest).
func ParseErasureCursor(c string) (at time.Time, id string, err error) {
	if c == "" {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "", nil
	}
	ms, id, ok := strings.Cut(c, ".")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil || id == "" {
		return time.Time{}, "", Errorf(EInvalid, "bad cursor %q", c)
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// ConsentEvent is the track event an explicit consent update made by Kenner is recorded as,
// Segment's name for it: the answer travels through the log like any other, so replays and
// every node see it.
const ConsentEvent = "Segment Consent Preference Updated"
