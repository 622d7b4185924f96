package kenner

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Match run states.
const (
	MatchRunning = "running"
	MatchDone    = "done"
	MatchFailed  = "failed"
)

// Match review states.
const (
	ReviewPending  = "pending"
	ReviewAccepted = "accepted"
	ReviewRejected = "rejected"
)

// DecisionProbabilistic is a merge made by probabilistic matching (a match run or an accepted
// review): From was merged into the profile because their records were alike, not because
// they shared an identifier. Reason holds the weight and each field's contribution; a split
// undoes it like any merge.
const DecisionProbabilistic = "probabilistic"

// MatchRun is one probabilistic matching job over a workspace's profiles: its parameters and,
// as it goes, its progress and result. The run's document holds no trait value of anyone:
// counts, estimated parameters and the threshold curve only.
type MatchRun struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"-"`
	Status      string          `json:"status"`
	Message     string          `json:"message,omitempty"`
	Params      json.RawMessage `json:"params"`
	Progress    json.RawMessage `json:"progress,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	CreatedBy   string          `json:"created_by,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
}

// MatchSide is one record of a reviewed pair: the profile as the run saw it, with the
// identifiers it held then (so that a rejection is remembered by identifiers, whatever the
// profile's id becomes) and the values compared.
type MatchSide struct {
	ProfileID   string            `json:"profile_id"`
	Identifiers []Identifier      `json:"identifiers"`
	Values      map[string]string `json:"values"`
}

// MatchField is one compared field of a pair: its agreement level and what it added to the
// weight.
type MatchField struct {
	Field        string  `json:"field"`
	Level        string  `json:"level"`
	Contribution float64 `json:"contribution"`
}

// MatchReview is a pair of profiles whose weight fell between the run's thresholds (or that
// the guard against chaining kept apart), waiting for a person to accept or reject it.
type MatchReview struct {
	ID          int64        `json:"id"`
	WorkspaceID string       `json:"-"`
	RunID       string       `json:"run_id"`
	Status      string       `json:"status"`
	Weight      float64      `json:"weight"`
	Probability float64      `json:"probability"`
	Reason      string       `json:"reason,omitempty"`
	A           MatchSide    `json:"a"`
	B           MatchSide    `json:"b"`
	Fields      []MatchField `json:"fields"`
	CreatedAt   time.Time    `json:"created_at"`
	DecidedBy   string       `json:"decided_by,omitempty"`
	DecidedAt   *time.Time   `json:"decided_at,omitempty"`
}

// Key names the pair whatever the order of its sides: the two profile ids, sorted.
func (r *MatchReview) Key() string {
	a, b := r.A.ProfileID, r.B.ProfileID
	if b < a {
		a, b = b, a
	}
	return a + "|" + b
}

// Covers reports whether the review's pair is the pair of profiles holding as and bs: some
// identifier of each side is on one of them (in either order).
func (r *MatchReview) Covers(as, bs []Identifier) bool {
	return SidesMeet(r.A.Identifiers, r.B.Identifiers, as, bs)
}

// SidesMeet reports whether two sets of identifiers (a review's sides, a separation's halves)
// fall one on each of two profiles holding as and bs, in either order.
func SidesMeet(sideA, sideB, as, bs []Identifier) bool {
	meets := func(side []Identifier, ids []Identifier) bool {
		for _, id := range ids {
			if slices.Contains(side, id) {
				return true
			}
		}
		return false
	}
	return meets(sideA, as) && meets(sideB, bs) || meets(sideA, bs) && meets(sideB, as)
}

// MatchReviewFilter selects reviews: by state ("" any), newest first, after the cursor (an id;
// 0: from the newest).
type MatchReviewFilter struct {
	WorkspaceID string
	Status      string
	RunID       string
	After       int64
	Limit       int
}

// MatchStore keeps probabilistic matching's runs and its review queue. Both are kept by
// ResetDerived, like configuration: a review decided by a person is not derived from the log.
// Erasing a person deletes the reviews that show them.
type MatchStore interface {
	// PutMatchRun creates a run or replaces its state.
	PutMatchRun(ctx context.Context, r *MatchRun) error
	MatchRun(ctx context.Context, workspaceID, id string) (*MatchRun, error)
	// MatchRuns lists a workspace's runs, newest first.
	MatchRuns(ctx context.Context, workspaceID string, limit int) ([]MatchRun, error)
	// AddMatchReviews queues pairs for review, filling their ids; a pair (by Key) already in
	// the queue, whatever its state, is left as it is. It returns how many were added.
	AddMatchReviews(ctx context.Context, workspaceID string, rs []MatchReview) (int, error)
	MatchReviews(ctx context.Context, f MatchReviewFilter) ([]MatchReview, error)
	MatchReview(ctx context.Context, workspaceID string, id int64) (*MatchReview, error)
	// DecideMatchReview accepts or rejects a pending review (EConflict when it is not pending).
	DecideMatchReview(ctx context.Context, workspaceID string, id int64, status, by string, at time.Time) error
	// CountMatchReviews counts a workspace's reviews by state.
	CountMatchReviews(ctx context.Context, workspaceID string) (map[string]int, error)
}

// ValidReviewDecision reports whether status is a decision a person can take on a review.
func ValidReviewDecision(status string) bool {
	return status == ReviewAccepted || status == ReviewRejected
}

// MatchReason is the text of a probabilistic merge's decision: the weight against the
// threshold and each field's contribution, strongest first.
func MatchReason(weight, threshold float64, how string, fields []MatchField) string {
	var b strings.Builder
	b.WriteString("probabilistic match (")
	b.WriteString(how)
	b.WriteString("): weight ")
	b.WriteString(formatWeight(weight))
	if how != "accepted in review" {
		b.WriteString(" ≥ ")
		b.WriteString(formatWeight(threshold))
	}
	sorted := slices.Clone(fields)
	slices.SortStableFunc(sorted, func(x, y MatchField) int {
		switch {
		case x.Contribution > y.Contribution:
			return -1
		case x.Contribution < y.Contribution:
			return 1
		}
		return 0
	})
	sep := "; "
	for _, f := range sorted {
		if f.Level == "missing" {
			continue
		}
		b.WriteString(sep)
		sep = ", "
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Level)
		b.WriteString(" ")
		if f.Contribution >= 0 {
			b.WriteString("+")
		}
		b.WriteString(formatWeight(f.Contribution))
	}
	return b.String()
}

func formatWeight(w float64) string {
	b, _ := json.Marshal(float64(int64(w*100+sign(w)*0.5)) / 100)
	return string(b)
}

func sign(w float64) float64 {
	if w < 0 {
		return -1
	}
	return 1
}

// DecideReview records a person's decision on a pending review and returns its document: the
// one rule both stores apply.
func DecideReview(r *MatchReview, status, by string, at time.Time) ([]byte, error) {
	if !ValidReviewDecision(status) {
		return nil, Errorf(EInvalid, "status: a review is accepted or rejected, not %q", status)
	}
	if r.Status != ReviewPending {
		return nil, Errorf(EConflict, "match review %d is already %s", r.ID, r.Status)
	}
	at = at.UTC()
	r.Status, r.DecidedBy, r.DecidedAt = status, by, &at
	return json.Marshal(r)
}

// MatchSourceID is the source of the identify calls probabilistic matching makes to merge
// profiles: each presents an identifier of both profiles and, in context.match, why.
const MatchSourceID = "match"

// MatchEvidence is context.match of a probabilistic merge's identify call.
type MatchEvidence struct {
	Run       string       `json:"run,omitempty"`
	Review    int64        `json:"review,omitempty"`
	How       string       `json:"how"`
	Weight    float64      `json:"weight"`
	Threshold float64      `json:"threshold"`
	Fields    []MatchField `json:"fields"`
}
