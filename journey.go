package kenner

import (
	"context"
	"encoding/json"
	"time"
)

// Journey states.
const (
	JourneyDraft    = "draft"    // never published: nobody enters
	JourneyLive     = "live"     // people enter and move through its published version
	JourneyPaused   = "paused"   // nobody enters and nobody moves; timers wait for it to resume
	JourneyArchived = "archived" // finished: nobody enters, everyone in it has left
)

// Journey step types.
const (
	StepWait        = "wait"        // wait Duration
	StepWaitUntil   = "wait_until"  // wait until the next Time of day in the person's time zone
	StepWaitEvent   = "wait_event"  // wait for Event (Then) or Timeout (TimeoutNext)
	StepBranch      = "branch"      // Condition over the profile: Then, else Else
	StepSplit       = "split"       // Percent of people to Then, the rest to Else, stably per person
	StepEmail       = "email"       // send Subject, HTML and Text to the person's email address
	StepDestination = "destination" // send the person to Destination
	StepSetTrait    = "set_trait"   // set Trait to Value on the profile
	StepGoal        = "goal"        // the conversion: doing Event anywhere in the journey jumps here
)

// Journey bounds (as Segment's).
const (
	MaxJourneySteps = 50
	MinJourneyWait  = time.Minute
	MaxJourneyWait  = 366 * 24 * time.Hour
)

// JourneyEntry says who enters a journey: the people entering Segment (a lead stage is a
// segment too: lead:<model id>:<stage>), or the people doing Event (with an optional CEL
// Filter over the event e).
type JourneyEntry struct {
	Segment string     `json:"segment,omitempty"`
	Event   string     `json:"event,omitempty"`
	Filter  string     `json:"filter,omitempty"`
	Date    *DateEntry `json:"date,omitempty"`
	// Audience takes everyone in a segment when the journey is published, once: a one-off
	// send (newsletter, announcement) with the journey's steps.
	Audience string `json:"audience,omitempty"`
}

// DateEntry takes people in on a date their profile holds: Before (or After) the date in the
// Trait (YYYY-MM-DD or RFC 3339), at Time of day in their time zone ("09:00" by default for a
// date without a time). A renewal reminder 3 days ahead: {"trait": "renewal_date", "before":
// "3d"}. Everyone whose date is ahead is scheduled when the journey is published, and again
// whenever the trait changes.
type DateEntry struct {
	Trait  string   `json:"trait"`
	Before Duration `json:"before,omitempty"`
	After  Duration `json:"after,omitempty"`
	Time   string   `json:"time,omitempty"`
}

// QuietHours are the hours of the person's day when no message is sent: a send falling in
// them waits until End. Start and End are "HH:MM"; Start after End spans midnight.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// FrequencyCap bounds the messages one person gets from all journeys of a workspace per
// calendar day and week of their time zone (0: no bound). A capped message is skipped and
// counted; the person goes on.
type FrequencyCap struct {
	Day  int `json:"day,omitempty"`
	Week int `json:"week,omitempty"`
}

// EmailTracking says which reactions to a journey's emails are recorded.
type EmailTracking struct {
	Opens  bool `json:"opens,omitempty"`
	Clicks bool `json:"clicks,omitempty"`
}

// JourneyStep is one step of a journey; which fields apply depends on Type.
type JourneyStep struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Next is the step after this one ("": the journey ends there).
	Next string `json:"next,omitempty"`

	Duration Duration `json:"duration,omitempty"` // wait
	Time     string   `json:"time,omitempty"`     // wait_until: "HH:MM"

	Event       string   `json:"event,omitempty"` // wait_event, goal
	Timeout     Duration `json:"timeout,omitempty"`
	TimeoutNext string   `json:"timeout_next,omitempty"`

	Condition string  `json:"condition,omitempty"` // branch
	Percent   float64 `json:"percent,omitempty"`   // split
	Then      string  `json:"then,omitempty"`      // wait_event, branch, split
	Else      string  `json:"else,omitempty"`      // branch, split

	Subject string `json:"subject,omitempty"` // email: Go templates over the profile
	HTML    string `json:"html,omitempty"`
	Text    string `json:"text,omitempty"`

	Destination string `json:"destination,omitempty"`

	Trait string          `json:"trait,omitempty"` // set_trait
	Value json.RawMessage `json:"value,omitempty"`
}

// JourneyDefinition is what a marketer edits and publishes.
type JourneyDefinition struct {
	Name  string       `json:"name"`
	Entry JourneyEntry `json:"entry"`
	// Reentry: "never" (default), "always", or a cool-down duration after the last exit.
	Reentry string `json:"reentry,omitempty"`
	// Exit is a CEL condition over the profile: it removes a person at any step.
	Exit  string        `json:"exit,omitempty"`
	Steps []JourneyStep `json:"steps"`
	// Holdout is the share of entrants (0 to 0.5) kept out of every message as a control
	// group, stably per person, so the journey's conversion can be compared.
	Holdout float64 `json:"holdout,omitempty"`
	// Timezone is the IANA zone of people without a timezone trait (default the server's
	// --journey-timezone, UTC).
	Timezone string `json:"timezone,omitempty"`
	// Tracking records opens (a pixel) and clicks (links through Kenner) of the journey's
	// emails as Email Opened and Email Link Clicked events (needs the server's public URL).
	Tracking     *EmailTracking `json:"tracking,omitempty"`
	QuietHours   *QuietHours    `json:"quiet_hours,omitempty"`
	FrequencyCap *FrequencyCap  `json:"frequency_cap,omitempty"`
}

// Journey is a workspace's journey: its draft definition, state and published version.
type Journey struct {
	WorkspaceID string `json:"-"`
	ID          string `json:"id"`
	JourneyDefinition
	Status string `json:"status"`
	// Version is the published version people enter (0: never published).
	Version     int        `json:"version"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// JourneyVersion is one published definition of a journey. People stay on the version
// they entered.
type JourneyVersion struct {
	JourneyID   string            `json:"journey_id"`
	Version     int               `json:"version"`
	Definition  JourneyDefinition `json:"definition"`
	PublishedAt time.Time         `json:"published_at"`
}

// Enrollment states.
const (
	EnrollmentActive    = "active"
	EnrollmentCompleted = "completed" // reached the end of the journey
	EnrollmentExited    = "exited"    // removed by the exit condition, an archive, an erasure
)

// Enrollment is one pass of one person through a journey: where they are, and the timer
// that moves them on. Run counts their entries (1 for the first).
type Enrollment struct {
	WorkspaceID string `json:"-"`
	JourneyID   string `json:"journey_id"`
	ProfileID   string `json:"profile_id"`
	Run         int    `json:"run"`
	Version     int    `json:"version"`
	Step        string `json:"step"`
	State       string `json:"state"`
	// DueAt is when the current step's timer fires (zero: no timer).
	DueAt time.Time `json:"due_at,omitzero"`
	// Seq counts the steps taken in this run: the idempotency keys of the run's sends.
	Seq int `json:"seq"`
	// Control marks a person of the holdout: they move through the journey without messages.
	Control   bool      `json:"control,omitempty"`
	Converted bool      `json:"converted,omitempty"`
	Branch    string    `json:"branch,omitempty"` // the last branch taken (conversion per branch)
	EnteredAt time.Time `json:"entered_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Rev grows with every write; a write that expects another Rev is refused (two nodes,
	// or a timer and an event, moving one person at once).
	Rev int64 `json:"-"`
}

// JourneyPathStep is one step a person took, for their path on the profile and the report.
type JourneyPathStep struct {
	JourneyID string    `json:"journey_id"`
	ProfileID string    `json:"profile_id"`
	Run       int       `json:"run"`
	Seq       int       `json:"seq"`
	Step      string    `json:"step"`
	Outcome   string    `json:"outcome"`
	At        time.Time `json:"at"`
}

// JourneyStat is a change of one of a journey's counters: Step "" is the journey's own
// (entered, completed, exited, converted), otherwise the step's (entered, waiting, sent,
// capped, held_out, converted, then, else, timeout...).
type JourneyStat struct {
	JourneyID string
	Step      string
	Metric    string
	Delta     int64
}

// JourneyMove is one person's move through a journey, written together: the enrollment's
// new state (refused unless the stored one still has PrevRev; 0: a new enrollment), the path
// it took, the sends it queued and the counters it changed.
type JourneyMove struct {
	Enrollment Enrollment
	PrevRev    int64
	Path       []JourneyPathStep
	Deliveries []Delivery
	Stats      []JourneyStat
	// Sends counts a message against the person's frequency caps (Day and Week are the
	// person's calendar day and ISO week, "2026-12-07" and "2026-W50").
	Sends []JourneySend
}

// JourneySend is one message counted against a person's frequency cap.
type JourneySend struct {
	ProfileID string
	Day       string
	Week      string
}

// JourneyBatch is the part of a store transaction (Batch) that moves people through
// journeys.
type JourneyBatch interface {
	// MoveJourney writes a move and reports false, writing nothing, when the enrollment is not
	// at PrevRev (or already exists, for a new one).
	MoveJourney(ctx context.Context, workspaceID string, m JourneyMove) (bool, error)
	// AddJourneyStats adds to counters: the moves of one transaction add theirs up first, so
	// that a thousand moves write a handful of counter rows, not thousands.
	AddJourneyStats(ctx context.Context, workspaceID string, stats []JourneyStat) error
}

// SumJourneyStats adds up counter changes by journey, step and metric, dropping those that
// net to zero.
func SumJourneyStats(stats []JourneyStat) []JourneyStat {
	type key struct{ j, s, m string }
	sum := map[key]int64{}
	var order []key
	for _, st := range stats {
		k := key{st.JourneyID, st.Step, st.Metric}
		if _, ok := sum[k]; !ok {
			order = append(order, k)
		}
		sum[k] += st.Delta
	}
	out := make([]JourneyStat, 0, len(order))
	for _, k := range order {
		if sum[k] != 0 {
			out = append(out, JourneyStat{JourneyID: k.j, Step: k.s, Metric: k.m, Delta: sum[k]})
		}
	}
	return out
}

// JourneyStore keeps journeys, their versions, the people in them and their counters.
type JourneyStore interface {
	// CreateJourney stores a new draft journey (EConflict: the name is taken).
	CreateJourney(ctx context.Context, j *Journey) error
	// UpdateJourney replaces a journey's draft definition and status.
	UpdateJourney(ctx context.Context, j *Journey) error
	// PublishJourney stores the journey's draft as its next version and makes it live.
	PublishJourney(ctx context.Context, workspaceID, id string, at time.Time) (*Journey, error)
	// MigrateJourney moves the people in flight on older versions whose current step (or
	// scheduled entry, step "") is one of steps to version, and returns how many moved.
	MigrateJourney(ctx context.Context, workspaceID, id string, version int, steps []string) (int64, error)
	// ArchiveJourney archives a journey and takes everyone still in it out (exited), and
	// returns how many that was.
	ArchiveJourney(ctx context.Context, workspaceID, id string, at time.Time) (int64, error)
	// DeleteJourney deletes a journey with its versions, enrollments and counters.
	DeleteJourney(ctx context.Context, workspaceID, id string) error
	Journey(ctx context.Context, workspaceID, id string) (*Journey, error)
	// Journeys lists a workspace's journeys by name; "" lists every workspace's.
	Journeys(ctx context.Context, workspaceID string) ([]Journey, error)
	JourneyVersion(ctx context.Context, workspaceID, id string, version int) (*JourneyVersion, error)
	JourneyVersions(ctx context.Context, workspaceID, id string) ([]JourneyVersion, error)

	// Enrollments lists a person's enrollments (every run of every journey), newest first.
	Enrollments(ctx context.Context, workspaceID, profileID string) ([]Enrollment, error)
	// DueEnrollments lists active enrollments of every workspace whose timer is due at t,
	// earliest first.
	DueEnrollments(ctx context.Context, t time.Time, limit int) ([]Enrollment, error)
	// NextDue is the earliest timer of an active enrollment (zero: none).
	NextDue(ctx context.Context) (time.Time, error)
	// JourneyPath lists the steps a person took in a journey's runs, oldest first.
	JourneyPath(ctx context.Context, workspaceID, journeyID, profileID string) ([]JourneyPathStep, error)
	// JourneyStats sums a journey's counters: step ("" for the journey's own) → metric → n.
	JourneyStats(ctx context.Context, workspaceID, journeyID string) (map[string]map[string]int64, error)
	// JourneySends counts a person's capped messages on a day and in a week.
	JourneySends(ctx context.Context, workspaceID, profileID, day, week string) (onDay, inWeek int64, err error)
	// AddJourneyReaction records a reaction (opened, clicked, unsubscribed) to one email of a
	// journey step, once per email and kind: the first adds 1 to the step's and the
	// journey's counter of that kind and reports true; repeats change nothing.
	AddJourneyReaction(ctx context.Context, workspaceID, journeyID, step, profileID, emailKey, kind string) (bool, error)
}

// JourneyDocument encodes the definition of j, which a store keeps as one document (its
// identity, status and published version are columns of their own).
func JourneyDocument(j *Journey) ([]byte, error) { return json.Marshal(j.JourneyDefinition) }

// SetJourneyDocument fills j's definition from a document JourneyDocument wrote.
func SetJourneyDocument(j *Journey, doc []byte) error {
	var d JourneyDefinition
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	if d.Steps == nil {
		d.Steps = []JourneyStep{}
	}
	j.JourneyDefinition = d
	return nil
}

// ErasedStats are the counter changes when people's enrollments are deleted by an erasure:
// those still in a journey leave it (active and waiting fall, exited rises), and those
// scheduled to enter never will. Both stores apply them before deleting the rows.
func ErasedStats(es []Enrollment) []JourneyStat {
	var out []JourneyStat
	for _, e := range es {
		if e.State != EnrollmentActive {
			continue
		}
		if e.Step == "" {
			out = append(out, JourneyStat{JourneyID: e.JourneyID, Metric: "scheduled", Delta: -1})
			continue
		}
		out = append(out, JourneyStat{JourneyID: e.JourneyID, Metric: "active", Delta: -1},
			JourneyStat{JourneyID: e.JourneyID, Metric: "exited", Delta: 1})
		if !e.DueAt.IsZero() {
			out = append(out, JourneyStat{JourneyID: e.JourneyID, Step: e.Step, Metric: "waiting", Delta: -1})
		}
	}
	return SumJourneyStats(out)
}
