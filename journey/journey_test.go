package journey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/internal/smtptest"
	"github.com/kenner-cdp/kenner/journey"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// clock is the journeys' time, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a whole pipeline on an embedded store and log: ingest, processor, activation with
// the journeys' email queue to a real SMTP server, and the journey runner on a test clock.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	log    *nats.Log
	ingest *ingest.Handler
	src    *kenner.Source
	proc   *process.Processor
	runner *journey.Runner
	smtp   *smtptest.Server
	clock  *clock
	stop   func()
}

type noSources struct{}

func (noSources) Source(context.Context, string) (*kenner.Source, error) {
	return nil, kenner.Errorf(kenner.ENotFound, "no source")
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, err := nats.Open(ctx, nats.Options{Dir: t.TempDir(), Partitions: 2}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	src := &kenner.Source{WorkspaceID: "ws", Name: "web", WriteKeyHash: "h"}
	if err := store.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, log: log, src: src, smtp: smtptest.Start(t, smtptest.Options{}),
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	e.ingest = ingest.New(log, noSources{}, ingest.NewMetrics(prometheus.NewRegistry()), logger, ingest.Config{})
	e.proc = process.New(log, store, process.DefaultConfig(), prometheus.NewRegistry(), logger)
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start runs the processor, activation and the runner until stop.
func (e *env) start() {
	logger := slog.New(slog.DiscardHandler)
	host, port, _ := net.SplitHostPort(e.smtp.Addr)
	p, _ := strconv.Atoi(port)
	cfg, err := email.ParseConfig(json.RawMessage(fmt.Sprintf(`{"host": %q, "port": %d, "security": "none", "from": "shop@example.com", "subject": "-", "text": "-"}`, host, p)))
	if err != nil {
		e.t.Fatal(err)
	}
	policy := egress.MustAllow("127.0.0.0/8")
	var svc *activation.Service
	from, _ := mail.ParseAddress("Shop <shop@example.com>")
	e.runner = journey.New(e.store, e.log, e.proc, e.ingest, journey.Config{Now: e.clock.Now, Poll: 10 * time.Millisecond,
		Processor: process.ConsumerName, Wake: func(id string) { svc.WakeDestination(id) },
		Mailer: email.NewMailer(cfg, policy), From: from}, logger)
	svc = activation.New(e.store, e.log, activation.Config{
		Senders:  activation.Senders{journey.EmailType: e.runner.EmailSenders()},
		Internal: []kenner.Destination{journey.EmailQueue()}, Poll: 20 * time.Millisecond, BackoffBase: 10 * time.Millisecond, Now: e.clock.Now,
	}, prometheus.NewRegistry(), logger)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.proc.Run(ctx) })
	wg.Go(func() { svc.Run(ctx) })
	wg.Go(func() { e.runner.Run(ctx) })
	e.stop = func() { cancel(); wg.Wait() }
}

func (e *env) send(msgs ...map[string]any) {
	e.t.Helper()
	var raws [][]byte
	for _, m := range msgs {
		if m["messageId"] == nil {
			m["messageId"] = kenner.NewID("msg")
		}
		b, _ := json.Marshal(m)
		raws = append(raws, b)
	}
	if err := e.ingest.Accept(e.t.Context(), e.src, raws); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) profileID(user string) string {
	e.t.Helper()
	var id string
	e.eventually("profile of "+user, func() bool {
		p, err := e.store.Profile(e.t.Context(), "ws", kenner.Identifier{Kind: kenner.KindUserID, Value: user})
		if err == nil {
			id = p.ID
		}
		return err == nil
	})
	return id
}

func (e *env) enrollment(user, journeyID string) kenner.Enrollment {
	e.t.Helper()
	es, err := e.store.Enrollments(e.t.Context(), "ws", e.profileID(user))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range es {
		if en.JourneyID == journeyID {
			return en
		}
	}
	return kenner.Enrollment{}
}

// mailsTo are the subjects of the mails each recipient got.
func (e *env) mailsTo() map[string][]string {
	out := map[string][]string{}
	for _, m := range e.smtp.Mails() {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			e.t.Fatal(err)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		for _, to := range m.To {
			out[to] = append(out[to], subj)
		}
	}
	return out
}

func (e *env) publish(def kenner.JourneyDefinition) *kenner.Journey {
	e.t.Helper()
	ctx := e.t.Context()
	if err := e.runner.Check(ctx, "ws", def); err != nil {
		e.t.Fatal(err)
	}
	j := &kenner.Journey{WorkspaceID: "ws", JourneyDefinition: def}
	if err := e.store.CreateJourney(ctx, j); err != nil {
		e.t.Fatal(err)
	}
	// Published at the real time: events are received at it (the test clock runs ahead).
	j, err := e.store.PublishJourney(ctx, "ws", j.ID, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	e.runner.Changed()
	return j
}

func winBack(segmentID string) kenner.JourneyDefinition {
	return kenner.JourneyDefinition{
		Name:  "win-back",
		Entry: kenner.JourneyEntry{Segment: segmentID},
		Steps: []kenner.JourneyStep{
			{ID: "wait", Type: kenner.StepWait, Duration: kenner.Duration(72 * time.Hour), Next: "vip"},
			{ID: "vip", Type: kenner.StepBranch, Condition: `traits.vip == true`, Then: "gift", Else: "miss"},
			{ID: "gift", Type: kenner.StepEmail, Subject: `A gift for you, {{ .traits.first_name | default "friend" }}`, Text: "Here is 20% off.", Next: "watch"},
			{ID: "miss", Type: kenner.StepEmail, Subject: `We miss you, {{ .traits.first_name | default "there" }}`,
				HTML: `<p>Hello {{ .traits.first_name | default "there" }}, come back to {{ .journey.name }}.</p>`, Next: "watch"},
			{ID: "watch", Type: kenner.StepWaitEvent, Event: "Coupon Viewed", Timeout: kenner.Duration(48 * time.Hour), TimeoutNext: "last"},
			{ID: "last", Type: kenner.StepEmail, Subject: "Last chance", Text: "The coupon ends today."},
			{ID: "goal", Type: kenner.StepGoal, Event: "Order Completed"},
		},
	}
}

// TestWinBack runs a win-back journey: segment entry → wait → branch → email → wait for an
// event or time out → email, with a goal, on a test clock against a real SMTP server.
func TestWinBack(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "at risk", Condition: `traits.status == "at_risk"`}
	if err := e.store.CreateSegment(ctx, seg); err != nil {
		t.Fatal(err)
	}
	j := e.publish(winBack(seg.ID))
	people := []map[string]any{
		{"type": "identify", "userId": "alice", "traits": map[string]any{"email": "alice@example.com", "first_name": "Alice", "vip": true, "status": "at_risk"}},
		{"type": "identify", "userId": "bob", "traits": map[string]any{"email": "bob@example.com", "status": "at_risk"}},
		{"type": "identify", "userId": "carol", "traits": map[string]any{"email": "carol@example.com", "first_name": "Carol", "status": "at_risk"}},
		{"type": "identify", "userId": "dave", "traits": map[string]any{"status": "at_risk"}},
	}
	e.send(people...)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		e.eventually(u+" enters", func() bool { return e.enrollment(u, j.ID).Step == "wait" })
	}
	e.clock.Add(71 * time.Hour)
	if _, err := e.runner.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.enrollment("alice", j.ID); got.Step != "wait" {
		t.Fatalf("after 71h alice is at %q, want still waiting", got.Step)
	}
	e.clock.Add(time.Hour)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		e.eventually(u+" waits for the coupon", func() bool { return e.enrollment(u, j.ID).Step == "watch" })
	}
	e.eventually("three mails", func() bool { return len(e.smtp.Mails()) == 3 })
	want := map[string][]string{
		"alice@example.com": {"A gift for you, Alice"},
		"bob@example.com":   {"We miss you, there"},
		"carol@example.com": {"We miss you, Carol"},
	}
	if got := e.mailsTo(); !equal(got, want) {
		t.Fatalf("mails %v, want %v", got, want)
	}

	// Bob views the coupon: the journey ends for him. Carol orders: the goal.
	e.send(map[string]any{"type": "track", "userId": "bob", "event": "Coupon Viewed"},
		map[string]any{"type": "track", "userId": "carol", "event": "Order Completed"})
	e.eventually("bob done", func() bool { return e.enrollment("bob", j.ID).State == kenner.EnrollmentCompleted })
	e.eventually("carol converted", func() bool {
		en := e.enrollment("carol", j.ID)
		return en.State == kenner.EnrollmentCompleted && en.Converted
	})
	e.clock.Add(48 * time.Hour)
	e.eventually("alice times out", func() bool { return e.enrollment("alice", j.ID).State == kenner.EnrollmentCompleted })
	e.eventually("dave times out", func() bool { return e.enrollment("dave", j.ID).State == kenner.EnrollmentCompleted })
	e.eventually("the last chance mail", func() bool { return len(e.smtp.Mails()) == 4 })
	want["alice@example.com"] = append(want["alice@example.com"], "Last chance")
	if got := e.mailsTo(); !equal(got, want) {
		t.Fatalf("mails %v, want %v", got, want)
	}

	stats, err := e.store.JourneyStats(ctx, "ws", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		step, metric string
		want         int64
	}{
		{"", "entered", 4}, {"", "completed", 4}, {"", "active", 0}, {"", "converted", 1},
		{"wait", "waiting", 0}, {"watch", "waiting", 0}, {"watch", "event", 1}, {"watch", "timeout", 2},
		{"vip", "then", 1}, {"vip", "else", 3}, {"vip", "converted_else", 1},
		{"gift", "sent", 1}, {"miss", "sent", 3}, {"last", "sent", 2}, {"goal", "converted", 1},
	}
	for _, c := range checks {
		if got := stats[c.step][c.metric]; got != c.want {
			t.Errorf("%s %s = %d, want %d (all: %v)", c.step, c.metric, got, c.want, stats)
		}
	}
	path, err := e.store.JourneyPath(ctx, "ws", j.ID, e.profileID("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, p := range path {
		steps = append(steps, p.Step+":"+p.Outcome)
	}
	if want := []string{"wait:waited", "vip:then", "gift:sent", "watch:timeout", "last:sent"}; !slices.Equal(steps, want) {
		t.Errorf("alice's path %v, want %v", steps, want)
	}

	// Alice leaves the segment and comes back: re-entry is "never".
	e.send(map[string]any{"type": "identify", "userId": "alice", "traits": map[string]any{"status": "active"}})
	e.send(map[string]any{"type": "identify", "userId": "alice", "traits": map[string]any{"status": "at_risk"}})
	if err := e.proc.Caught(ctx); err != nil {
		t.Fatal(err)
	}
	e.eventually("changes read", func() bool {
		pos, _ := e.store.Position(ctx, journey.ChangesConsumer, 0)
		cs, _ := e.store.Changes(ctx, int64(pos), 10)
		return len(cs) == 0
	})
	if en := e.enrollment("alice", j.ID); en.Run != 1 {
		t.Errorf("alice re-entered (run %d) with reentry never", en.Run)
	}
}

func equal(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestQuietHoursCapsExitAndTraits: a send in the person's quiet hours waits until they end;
// a second email the same day is capped and the person goes on; the exit condition takes a
// person out while they wait; set_trait writes the trait through the log with the journeys
// source; the holdout gets no email.
func TestQuietHoursCapsExitAndTraits(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	// 22:30 in Amsterdam, 16:30 in New York.
	e.clock.Set(time.Date(2026, 12, 7, 22, 30, 0, 0, ams).UTC())
	j := e.publish(kenner.JourneyDefinition{
		Name: "nurture", Entry: kenner.JourneyEntry{Event: "Signed Up"}, Timezone: "Europe/Amsterdam",
		QuietHours: &kenner.QuietHours{Start: "21:00", End: "08:00"}, FrequencyCap: &kenner.FrequencyCap{Day: 1},
		Exit: `traits.status == "churned"`,
		Steps: []kenner.JourneyStep{
			{ID: "one", Type: kenner.StepEmail, Subject: "One", Text: "1", Next: "two"},
			{ID: "two", Type: kenner.StepEmail, Subject: "Two", Text: "2", Next: "wait"},
			{ID: "wait", Type: kenner.StepWait, Duration: kenner.Duration(time.Hour), Next: "mark"},
			{ID: "mark", Type: kenner.StepSetTrait, Trait: "stage", Value: json.RawMessage(`"nurtured"`)},
		},
	})
	e.send(
		map[string]any{"type": "identify", "userId": "p1", "traits": map[string]any{"email": "p1@example.com"}},
		map[string]any{"type": "identify", "userId": "p2", "traits": map[string]any{"email": "p2@example.com", "timezone": "America/New_York"}},
		map[string]any{"type": "identify", "userId": "p3", "traits": map[string]any{"email": "p3@example.com"}},
		// p4's zone is in what their browser sends (context.timezone), not in a trait.
		map[string]any{"type": "identify", "userId": "p4", "traits": map[string]any{"email": "p4@example.com"}, "context": map[string]any{"timezone": "America/New_York"}},
		map[string]any{"type": "track", "userId": "p1", "event": "Signed Up"},
		map[string]any{"type": "track", "userId": "p2", "event": "Signed Up"},
		map[string]any{"type": "track", "userId": "p3", "event": "Signed Up"},
		map[string]any{"type": "track", "userId": "p4", "event": "Signed Up", "context": map[string]any{"timezone": "America/New_York"}},
	)
	morning := time.Date(2026, 12, 8, 8, 0, 0, 0, ams).UTC()
	e.eventually("p1 held by quiet hours", func() bool {
		en := e.enrollment("p1", j.ID)
		return en.Step == "one" && en.DueAt.Equal(morning)
	})
	e.eventually("p2 past the cap, waiting", func() bool { return e.enrollment("p2", j.ID).Step == "wait" })
	e.eventually("p3 held", func() bool { return e.enrollment("p3", j.ID).Step == "one" })
	e.eventually("p4 past the cap, waiting", func() bool { return e.enrollment("p4", j.ID).Step == "wait" })
	e.eventually("p2's and p4's first emails", func() bool { return len(e.smtp.Mails()) == 2 })
	if got := e.mailsTo(); !equal(got, map[string][]string{"p2@example.com": {"One"}, "p4@example.com": {"One"}}) {
		t.Fatalf("mails during p1's quiet hours: %v", got)
	}

	// p3 churns while waiting: out.
	e.send(map[string]any{"type": "identify", "userId": "p3", "traits": map[string]any{"status": "churned"}})
	e.eventually("p3 exits", func() bool { return e.enrollment("p3", j.ID).State == kenner.EnrollmentExited })

	e.clock.Set(morning)
	e.eventually("p1 past the cap, waiting", func() bool { return e.enrollment("p1", j.ID).Step == "wait" })
	e.clock.Add(time.Hour)
	for _, u := range []string{"p1", "p2", "p4"} {
		e.eventually(u+" marked", func() bool {
			p, err := e.store.Profile(ctx, "ws", kenner.Identifier{Kind: kenner.KindUserID, Value: u})
			return err == nil && string(p.Traits["stage"].Value) == `"nurtured"` && p.Traits["stage"].SourceID == journey.SourceID
		})
	}
	want := map[string][]string{"p1@example.com": {"One"}, "p2@example.com": {"One"}, "p4@example.com": {"One"}}
	if got := e.mailsTo(); !equal(got, want) {
		t.Errorf("mails %v, want %v", got, want)
	}
	// The trait is appended to the log before the move that set it commits.
	var stats map[string]map[string]int64
	e.eventually("all three completed", func() bool {
		stats, _ = e.store.JourneyStats(ctx, "ws", j.ID)
		return stats[""]["completed"] == 3
	})
	for _, c := range []struct {
		step, metric string
		want         int64
	}{{"one", "quiet", 2}, {"one", "sent", 3}, {"two", "capped", 3}, {"", "exited", 1}, {"", "completed", 3}, {"", "active", 0}, {"one", "waiting", 0}, {"mark", "set", 3}} {
		if got := stats[c.step][c.metric]; got != c.want {
			t.Errorf("%s %s = %d, want %d (all: %v)", c.step, c.metric, got, c.want, stats)
		}
	}

	// A holdout of half: the control group gets no email and is counted.
	h := e.publish(kenner.JourneyDefinition{Name: "offer", Entry: kenner.JourneyEntry{Event: "Joined"}, Holdout: 0.5,
		Steps: []kenner.JourneyStep{{ID: "offer", Type: kenner.StepEmail, Subject: "Offer", Text: "!"}}})
	var msgs []map[string]any
	for i := range 20 {
		u := fmt.Sprintf("h%02d", i)
		msgs = append(msgs, map[string]any{"type": "identify", "userId": u, "traits": map[string]any{"email": u + "@example.com"}},
			map[string]any{"type": "track", "userId": u, "event": "Joined"})
	}
	e.send(msgs...)
	var hs map[string]map[string]int64
	e.eventually("everyone through the offer", func() bool {
		hs, _ = e.store.JourneyStats(ctx, "ws", h.ID)
		return hs[""]["completed"] == 20
	})
	control := hs[""]["control"]
	if control == 0 || control == 20 || hs["offer"]["held_out"] != control || hs["offer"]["sent"] != 20-control {
		t.Fatalf("holdout stats %v", hs)
	}
	e.eventually("the offers", func() bool { return len(e.smtp.Mails()) == 3+int(20-control) })
}

// TestVersions: people in flight stay on the version they entered; new entrants take the
// published one.
func TestVersions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	def := kenner.JourneyDefinition{Name: "versions", Entry: kenner.JourneyEntry{Event: "Joined"},
		Steps: []kenner.JourneyStep{
			{ID: "wait", Type: kenner.StepWait, Duration: kenner.Duration(time.Hour), Next: "mail"},
			{ID: "mail", Type: kenner.StepEmail, Subject: "Version one", Text: "1"},
		}}
	j := e.publish(def)
	e.send(map[string]any{"type": "identify", "userId": "old", "traits": map[string]any{"email": "old@example.com"}},
		map[string]any{"type": "track", "userId": "old", "event": "Joined"})
	e.eventually("old waits", func() bool { return e.enrollment("old", j.ID).Step == "wait" })
	def.Steps[1].Subject = "Version two"
	got, _ := e.store.Journey(ctx, "ws", j.ID)
	got.JourneyDefinition = def
	if err := e.store.UpdateJourney(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PublishJourney(ctx, "ws", j.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.runner.Changed()
	e.send(map[string]any{"type": "identify", "userId": "new", "traits": map[string]any{"email": "new@example.com"}},
		map[string]any{"type": "track", "userId": "new", "event": "Joined"})
	e.eventually("new waits", func() bool { return e.enrollment("new", j.ID).Version == 2 })
	if v := e.enrollment("old", j.ID).Version; v != 1 {
		t.Fatalf("old moved to version %d", v)
	}
	e.clock.Add(time.Hour)
	e.eventually("both mails", func() bool { return len(e.smtp.Mails()) == 2 })
	want := map[string][]string{"old@example.com": {"Version one"}, "new@example.com": {"Version two"}}
	if got := e.mailsTo(); !equal(got, want) {
		t.Errorf("mails %v, want %v", got, want)
	}

	// Published with migration, people in flight at a step the new version has move to it.
	e.send(map[string]any{"type": "identify", "userId": "mid", "traits": map[string]any{"email": "mid@example.com"}},
		map[string]any{"type": "track", "userId": "mid", "event": "Joined"})
	e.eventually("mid waits on version two", func() bool { return e.enrollment("mid", j.ID).Version == 2 })
	def.Steps[1].Subject = "Version three"
	got.JourneyDefinition = def
	if err := e.store.UpdateJourney(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PublishJourney(ctx, "ws", j.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := e.store.MigrateJourney(ctx, "ws", j.ID, 3, []string{"wait", "mail"}); err != nil || n != 1 {
		t.Fatalf("migrate: %d %v, want mid moved", n, err)
	}
	e.runner.Changed()
	e.clock.Add(time.Hour)
	e.eventually("mid's mail", func() bool { return len(e.smtp.Mails()) == 3 })
	if got := e.mailsTo()["mid@example.com"]; !slices.Equal(got, []string{"Version three"}) {
		t.Errorf("mid got %v, want the migrated version's email", got)
	}
}

// TestDateEntry: a renewal reminder 3 days before each person's renewal date: people whose
// date is ahead are scheduled when the journey is published and whenever their date
// changes; a date just passed (within a day) enters at once; older dates never enter.
func TestDateEntry(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.clock.Set(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	person := func(u, date string) map[string]any {
		return map[string]any{"type": "identify", "userId": u, "traits": map[string]any{"email": u + "@example.com", "renewal_date": date}}
	}
	e.send(person("a", "2026-12-20"), person("b", "2026-12-01"))
	e.profileID("a")
	e.profileID("b")
	if err := e.proc.Caught(ctx); err != nil {
		t.Fatal(err)
	}
	j := e.publish(kenner.JourneyDefinition{Name: "renewal",
		Entry: kenner.JourneyEntry{Date: &kenner.DateEntry{Trait: "renewal_date", Before: kenner.Duration(72 * time.Hour)}},
		Steps: []kenner.JourneyStep{{ID: "remind", Type: kenner.StepEmail, Subject: "Your renewal is coming", Text: "Renew now."}}})
	e.eventually("a scheduled by the backfill", func() bool {
		en := e.enrollment("a", j.ID)
		return en.Step == "" && en.DueAt.Equal(time.Date(2026, 12, 17, 9, 0, 0, 0, time.UTC))
	})
	e.send(person("c", "2026-12-09"), person("d", "2026-12-10"), person("a", "2026-12-25"))
	e.eventually("d enters at once", func() bool { return e.enrollment("d", j.ID).State == kenner.EnrollmentCompleted })
	e.eventually("a rescheduled", func() bool {
		return e.enrollment("a", j.ID).DueAt.Equal(time.Date(2026, 12, 22, 9, 0, 0, 0, time.UTC))
	})
	e.clock.Set(time.Date(2026, 12, 17, 10, 0, 0, 0, time.UTC))
	e.eventually("d's reminder", func() bool { return len(e.smtp.Mails()) == 1 })
	if _, err := e.runner.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if en := e.enrollment("a", j.ID); en.Step != "" {
		t.Fatalf("a entered on the old date: %+v", en)
	}
	e.clock.Set(time.Date(2026, 12, 22, 9, 0, 0, 0, time.UTC))
	e.eventually("a's reminder", func() bool { return len(e.smtp.Mails()) == 2 })
	want := map[string][]string{"a@example.com": {"Your renewal is coming"}, "d@example.com": {"Your renewal is coming"}}
	if got := e.mailsTo(); !equal(got, want) {
		t.Errorf("mails %v, want %v", got, want)
	}
	for _, u := range []string{"b", "c"} {
		if en := e.enrollment(u, j.ID); en.Run != 0 {
			t.Errorf("%s, whose date passed long ago, is in the journey: %+v", u, en)
		}
	}
	stats, _ := e.store.JourneyStats(ctx, "ws", j.ID)
	if stats[""]["entered"] != 2 || stats[""]["scheduled"] != 0 || stats[""]["completed"] != 2 {
		t.Errorf("stats %v", stats)
	}
}

// TestAudience: a one-off audience takes everyone in the segment at publication, once;
// people who join the segment later do not enter; publishing again takes those who joined
// since, and nobody twice.
func TestAudience(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "vip", Condition: `traits.vip == true`}
	if err := e.store.CreateSegment(ctx, seg); err != nil {
		t.Fatal(err)
	}
	var msgs []map[string]any
	for i, vip := range []bool{true, true, false, true} {
		u := fmt.Sprintf("v%d", i)
		msgs = append(msgs, map[string]any{"type": "identify", "userId": u, "traits": map[string]any{"email": u + "@example.com", "vip": vip}})
	}
	e.send(msgs...)
	e.eventually("three members", func() bool {
		ms, _, _ := e.store.SegmentMembers(ctx, "ws", seg.ID, "", 10)
		return len(ms) == 3
	})
	j := e.publish(kenner.JourneyDefinition{Name: "announcement", Entry: kenner.JourneyEntry{Audience: seg.ID},
		Steps: []kenner.JourneyStep{{ID: "news", Type: kenner.StepEmail, Subject: "Our new collection", Text: "Have a look."}}})
	e.eventually("the announcement", func() bool { return len(e.smtp.Mails()) == 3 })
	e.send(map[string]any{"type": "identify", "userId": "late", "traits": map[string]any{"email": "late@example.com", "vip": true}})
	e.eventually("late in the segment", func() bool {
		ms, _, _ := e.store.SegmentMembers(ctx, "ws", seg.ID, "", 10)
		return len(ms) == 4
	})
	if err := e.proc.Caught(ctx); err != nil {
		t.Fatal(err)
	}
	if en := e.enrollment("late", j.ID); en.Run != 0 {
		t.Fatalf("late entered a one-off audience after its publication: %+v", en)
	}
	if _, err := e.store.PublishJourney(ctx, "ws", j.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.runner.Changed()
	// The second publication's pass goes through all four members: only late is new.
	e.eventually("late's announcement", func() bool { return len(e.smtp.Mails()) == 4 })
	want := map[string][]string{}
	for _, u := range []string{"v0", "v1", "v3", "late"} {
		want[u+"@example.com"] = []string{"Our new collection"}
	}
	if got := e.mailsTo(); !equal(got, want) {
		t.Errorf("mails %v, want %v", got, want)
	}
}

// TestCheck: a journey that cannot run is refused on publish, with the step and the reason.
func TestCheck(t *testing.T) {
	e := newEnv(t)
	e.send(map[string]any{"type": "identify", "userId": "u", "traits": map[string]any{"email": "u@example.com", "vip": true}})
	e.profileID("u")
	mail := kenner.JourneyStep{ID: "mail", Type: kenner.StepEmail, Subject: "Hi", Text: "hi"}
	entry := kenner.JourneyEntry{Event: "Joined"}
	tests := []struct {
		name  string
		def   kenner.JourneyDefinition
		wants string
	}{
		{"a step to nowhere", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepWait, Duration: kenner.Duration(time.Hour), Next: "b"}}}, `step "a" (wait): goes to "b", which is not a step`},
		{"a loop without a wait", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepBranch, Condition: "traits.vip == true", Then: "b", Else: "a"},
			{ID: "b", Type: kenner.StepEmail, Subject: "Hi", Text: "hi", Next: "a"}}}, "loop without a wait"},
		{"a branch on an unknown trait", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepBranch, Condition: "traits.vpi == true", Then: "mail"}, mail}}, `step "a" (branch): the condition reads traits.vpi`},
		{"a template that does not render", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepEmail, Subject: "Hi {{ .traits.first_name | upper }}", Text: "x"}}}, `step "a" (email)`},
		{"a wait too short", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepWait, Duration: kenner.Duration(time.Second)}}}, "between 1 minute and 1 year"},
		{"an unknown destination", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
			{ID: "a", Type: kenner.StepDestination, Destination: "dst_nope"}}}, `no destination "dst_nope"`},
		{"an unknown segment", kenner.JourneyDefinition{Name: "x", Entry: kenner.JourneyEntry{Segment: "seg_nope"}, Steps: []kenner.JourneyStep{mail}}, `no segment "seg_nope"`},
		{"too many steps", kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: make([]kenner.JourneyStep, 51)}, "at most 50 steps"},
	}
	for _, tc := range tests {
		err := e.runner.Check(t.Context(), "ws", tc.def)
		if err == nil || !strings.Contains(kenner.ErrorMessage(err), tc.wants) || kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("%s: %v, want an invalid error with %q", tc.name, err, tc.wants)
		}
	}
	ok := kenner.JourneyDefinition{Name: "x", Entry: entry, Steps: []kenner.JourneyStep{
		{ID: "a", Type: kenner.StepBranch, Condition: "traits.vip == true", Then: "mail"}, mail}}
	if err := e.runner.Check(t.Context(), "ws", ok); err != nil {
		t.Errorf("a journey that can run: %v", err)
	}
}
