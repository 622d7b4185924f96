package kenner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Computed trait functions.
const (
	FuncCount        = "count"
	FuncSum          = "sum"
	FuncAverage      = "avg"
	FuncMin          = "min"
	FuncMax          = "max"
	FuncFirst        = "first"
	FuncLast         = "last"
	FuncMostFrequent = "most_frequent"
	FuncUnique       = "unique"
	// FuncDays keeps one bucket per UTC day with a matching event: how many, and the sum of
	// the property. It is the purchase history the prediction models read (kept for a model,
	// not offered as a computed trait function).
	FuncDays = "days"
	// FuncExpression computes a value from traits and other computed traits with a CEL
	// expression instead of aggregating events.
	FuncExpression = "expression"
)

// ComputedTrait is a value kept up to date for every profile of a workspace: an aggregate of
// the profile's events (orders_30d, revenue_lifetime, favorite_category_90d) or an expression
// over its traits.
type ComputedTrait struct {
	WorkspaceID string `json:"-"`
	Name        string `json:"name"`
	Func        string `json:"func"`
	// Event names the events aggregated: a track call's event name, "$page", "$screen",
	// "$identify", "$group" for those calls, "*" for every call.
	Event string `json:"event,omitempty"`
	// Where is a CEL condition over the event e (e.properties.category == "shoes").
	Where string `json:"where,omitempty"`
	// Property is the dotted path of the aggregated value (properties.total); count needs none.
	Property string `json:"property,omitempty"`
	// Window limits the aggregate to events of the last Window; 0 is the whole history.
	Window     Duration  `json:"window,omitempty"`
	Expression string    `json:"expression,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Segment states.
const (
	SegmentBuilding = "building" // memberships are being computed from the stored profiles
	SegmentReady    = "ready"
)

// Segment is a group of profiles defined by a CEL condition.
type Segment struct {
	WorkspaceID string `json:"-"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Condition   string `json:"condition"`
	// Version is the workspace's definitions version when the condition was last set; the
	// segment is building until the workspace's build reaches it.
	Version   int64     `json:"-"`
	State     string    `json:"state"`
	Processed int64     `json:"processed"` // profiles evaluated by the running build
	Total     int64     `json:"total"`     // profiles the running build evaluates
	Members   int64     `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SegmentCount is a segment's member count on a day (the last count recorded that day).
type SegmentCount struct {
	Day     string `json:"day"` // YYYY-MM-DD, UTC
	Members int64  `json:"members"`
}

// Aggregate is the incrementally maintained state behind a computed value for one profile:
// events folded into time buckets, so a windowed value falls as buckets leave the window, and
// two profiles' states merge by adding buckets up.
type Aggregate struct {
	Buckets []Bucket `json:"b"`
}

// Bucket is the part of an Aggregate that covers one span of time (Start, unix seconds; 0 for
// the single bucket of an aggregate without a window).
type Bucket struct {
	Start int64            `json:"t"`
	Count int64            `json:"n"`
	Sum   float64          `json:"s,omitempty"`
	Min   *float64         `json:"lo,omitempty"`
	Max   *float64         `json:"hi,omitempty"`
	First *Sample          `json:"f,omitempty"`
	Last  *Sample          `json:"l,omitempty"`
	Freq  map[string]int64 `json:"c,omitempty"`
}

// Sample is one event's value, for first and last.
type Sample struct {
	At    time.Time       `json:"at"`
	Rank  int64           `json:"r"`
	Value json.RawMessage `json:"v"`
}

// Change types on the changes stream.
const (
	ChangeSegmentEntered = "segment.entered"
	ChangeSegmentExited  = "segment.exited"
	ChangeProfileUpdated = "profile.updated"
	// ChangeProfileDeleted follows an erasure: it names the person by profile id and by
	// SHA-256 hashes of their identifiers, so destinations can delete them too.
	ChangeProfileDeleted = "profile.deleted"
	// ChangeLeadStageChanged is a lead crossing a stage threshold of a lead model, up or down:
	// Data holds {"model", "model_id", "from", "to", "score"}. The sales hand-off.
	ChangeLeadStageChanged = "lead.stage_changed"
)

// Change is one entry of a workspace's changes stream: what downstream consumers (activation,
// journeys) react to. Seq is assigned by the store and grows.
type Change struct {
	Seq         int64           `json:"seq"`
	WorkspaceID string          `json:"workspace_id"`
	Type        string          `json:"type"`
	ProfileID   string          `json:"profile_id"`
	SegmentID   string          `json:"segment_id,omitempty"`
	At          time.Time       `json:"at"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// Membership is a profile in a segment since a time.
type Membership struct {
	SegmentID string    `json:"segment_id"`
	ProfileID string    `json:"profile_id"`
	Since     time.Time `json:"since"`
}

// Counts of the whole workspace are recorded beside the segments' (RecordSegmentCounts) under
// these ids, which no segment can have: counting a million profiles takes seconds, so the
// overview reads the last recorded count instead.
const (
	CountOfProfiles   = "$profiles"
	CountOfIdentified = "$identified"
)

// MembershipEvent is a profile entering or leaving a segment, kept as the profile's history.
type MembershipEvent struct {
	ID        int64     `json:"-"`
	SegmentID string    `json:"segment_id"`
	ProfileID string    `json:"profile_id"`
	Entered   bool      `json:"entered"`
	At        time.Time `json:"at"`
}

// AudienceBatch is the part of a processing transaction (Batch) that keeps memberships and
// the changes stream.
type AudienceBatch interface {
	// DefinitionsVersion reads the workspace's definitions version inside the transaction, so
	// that a processor that locked profiles folds events with the definitions a concurrent
	// build of those profiles used.
	DefinitionsVersion(ctx context.Context, workspaceID string) (int64, error)
	// WriteMemberships records entries and exits (members, history) and appends
	// segment.entered/exited to the changes stream.
	WriteMemberships(ctx context.Context, workspaceID string, m []MembershipEvent) error
	// AddChanges appends to the changes stream.
	AddChanges(ctx context.Context, c []Change) error
	// ProfileEvents returns the stored events of profiles, in log order, by profile.
	ProfileEvents(ctx context.Context, workspaceID string, profileIDs []string) (map[string][]Event, error)
}

// AudienceStore keeps computed trait and segment definitions, memberships and the changes
// stream's outbox.
type AudienceStore interface {
	// PutComputedTrait creates or replaces the computed trait of that name.
	PutComputedTrait(ctx context.Context, t *ComputedTrait) error
	DeleteComputedTrait(ctx context.Context, workspaceID, name string) error
	ComputedTraits(ctx context.Context, workspaceID string) ([]ComputedTrait, error)

	CreateSegment(ctx context.Context, s *Segment) error
	// UpdateSegment replaces name, description, condition and state.
	UpdateSegment(ctx context.Context, s *Segment) error
	// DeleteSegment deletes a segment and its memberships.
	DeleteSegment(ctx context.Context, workspaceID, id string) error
	// Segment reads a segment with its members counted now.
	Segment(ctx context.Context, workspaceID, id string) (*Segment, error)
	// Segments lists a workspace's segments by name, without counting members (Members 0).
	Segments(ctx context.Context, workspaceID string) ([]Segment, error)
	// CountMembers counts every segment's members now, by segment id (absent: none).
	CountMembers(ctx context.Context, workspaceID string) (map[string]int64, error)
	// RecordSegmentCounts keeps each segment's member count as the count of day (YYYY-MM-DD),
	// replacing what was recorded for that day.
	RecordSegmentCounts(ctx context.Context, workspaceID, day string, members map[string]int64) error
	// SegmentCounts lists a segment's daily counts from day from (YYYY-MM-DD) on, oldest first.
	SegmentCounts(ctx context.Context, workspaceID, segmentID, from string) ([]SegmentCount, error)
	// SegmentMembers lists members by profile id after the cursor ("" from the start).
	SegmentMembers(ctx context.Context, workspaceID, segmentID, after string, limit int) ([]Membership, string, error)
	// MembershipHistory lists a profile's entries and exits, newest first.
	MembershipHistory(ctx context.Context, workspaceID, profileID string, after int64, limit int) ([]MembershipEvent, int64, error)

	// Build reports the workspace's definitions version and how far the profiles are built.
	Build(ctx context.Context, workspaceID string) (Build, error)
	// SetBuild records a build's progress; Built is the version it finished (Processed and
	// Total describe the running one).
	SetBuild(ctx context.Context, workspaceID string, b Build) error
	// Profiles reads live profiles by id (without identities); unknown ids are absent.
	Profiles(ctx context.Context, workspaceID string, ids []string) (map[string]*Profile, error)
	// ScanProfiles reads the live profiles whose ids are after the cursor and at most last, in
	// id order, decoding only what fields names (nil: everything).
	ScanProfiles(ctx context.Context, workspaceID, after, last string, fields *ProfileFields) ([]*Profile, error)
	// ProfilePage finds the next page of a pass over the live profiles: of the (at most) limit
	// ids after the cursor, the last and how many there are. A pass lists pages, not ids.
	ProfilePage(ctx context.Context, workspaceID, after string, limit int) (last string, n int, err error)
	// ProfileIDs lists the ids of a workspace's live profiles after the cursor, in id order.
	ProfileIDs(ctx context.Context, workspaceID, after string, limit int) ([]string, error)
	// CountProfiles counts a workspace's live profiles.
	CountProfiles(ctx context.Context, workspaceID string) (int64, error)
	// CountIdentified counts a workspace's live profiles that have a user id.
	CountIdentified(ctx context.Context, workspaceID string) (int64, error)
	// ExpiringProfiles lists profiles whose windowed values change at or before t.
	ExpiringProfiles(ctx context.Context, workspaceID string, t time.Time, limit int) ([]string, error)
	// Changes lists the changes stream after seq, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
}

// Build is the state of recomputing a workspace's profiles after its definitions changed.
type Build struct {
	Version   int64 // grows with every change of computed traits or segments
	Built     int64 // the version every profile was recomputed for
	Processed int64
	Total     int64
}

// Duration is a time.Duration that reads and writes as text ("720h", "30d") in JSON.
type Duration time.Duration

// ParseDuration reads Go's duration syntax, plus whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days int64
		for _, c := range s[:n-1] {
			if c < '0' || c > '9' || days > 1e6 {
				return 0, Errorf(EInvalid, "duration %q: want a number of days like 30d, or hours like 720h", s)
			}
			days = days*10 + int64(c-'0')
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, Errorf(EInvalid, "duration %q: want a positive duration like 720h or 30d", s)
	}
	return d, nil
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// String is the duration in whole days when it is whole days ("30 days"), else Go's syntax.
func (d Duration) String() string {
	day := 24 * time.Hour
	if td := time.Duration(d); td > 0 && td%day == 0 {
		if td == day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", td/day)
	}
	return time.Duration(d).String()
}

// UnmarshalJSON reads a duration written as text.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(EInvalid, "duration: want a string like \"720h\" or \"30d\"")
	}
	v, err := ParseDuration(s)
	*d = Duration(v)
	return err
}

// SetSegmentState fills a segment's state and progress from its workspace's build.
func SetSegmentState(s *Segment, b Build) {
	s.State = SegmentReady
	if s.Version > b.Built {
		s.State = SegmentBuilding
		s.Processed, s.Total = b.Processed, b.Total
	}
}

// NetMemberships reduces a batch's entries and exits, in order, to what a members table
// needs: the memberships to delete (exited at any point), then those to insert (whose last
// event is an entry), since the first entry after their last exit. A membership entered and
// never exited keeps its old time where it already exists.
func NetMemberships(ms []MembershipEvent) (deletes, inserts []MembershipEvent) {
	type key struct{ segment, profile string }
	since := map[key]time.Time{}
	exited := map[key]bool{}
	var order []key
	for _, m := range ms {
		k := key{m.SegmentID, m.ProfileID}
		if _, ok := since[k]; !ok && !exited[k] {
			order = append(order, k)
		}
		switch {
		case !m.Entered:
			exited[k] = true
			delete(since, k)
		case since[k].IsZero():
			since[k] = m.At
		}
	}
	for _, k := range order {
		if exited[k] {
			deletes = append(deletes, MembershipEvent{SegmentID: k.segment, ProfileID: k.profile})
		}
		if at, ok := since[k]; ok {
			inserts = append(inserts, MembershipEvent{SegmentID: k.segment, ProfileID: k.profile, Entered: true, At: at})
		}
	}
	return deletes, inserts
}

// MembershipChanges are the changes-stream entries of entries and exits.
func MembershipChanges(workspaceID string, ms []MembershipEvent) []Change {
	out := make([]Change, 0, len(ms))
	for _, m := range ms {
		typ := ChangeSegmentExited
		if m.Entered {
			typ = ChangeSegmentEntered
		}
		out = append(out, Change{WorkspaceID: workspaceID, Type: typ, ProfileID: m.ProfileID, SegmentID: m.SegmentID, At: m.At})
	}
	return out
}
