// Package journey runs journeys: people enter on a segment entry (a lead stage is one) or an
// event, and move through waits, branches, splits, emails, destination sends and trait
// updates. Every waiting person is a row in the store with its due time (a durable timer),
// and every move is one store transaction holding the person's new place, the path they
// took, the counters and the sends it queued, checked against the place it started from:
// a restart, a crash or a second node loses, skips or doubles no step. Sends go through
// activation's queues with an idempotency key per step visit, so a retried send is the same
// send.
package journey

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/supervisor"
	"github.com/kenner-cdp/kenner/segment"
)

// Names in the store and on the queues.
const (
	ChangesConsumer = "journeys.changes"
	EventsConsumer  = "journeys.events"
	// EmailDestination is the delivery queue of journeys' emails (not a stored destination).
	EmailDestination = "$journeys.email"
	// EmailType is the sender type of that queue.
	EmailType = "journey_email"
	// DeliveryEmail and DeliveryStep are the delivery types journeys queue.
	DeliveryEmail = "journey.email"
	DeliveryStep  = "journey.step"
	// SourceID is the source of the events journeys write (set_trait).
	SourceID = "journeys"
)

// Engines gives a workspace's compiled definitions (the processor).
type Engines interface {
	Engine(ctx context.Context, ws string) (*segment.Engine, error)
}

// Accepter appends events Kenner makes itself, as the tracking API would (ingest.Handler).
type Accepter interface {
	Accept(ctx context.Context, src *kenner.Source, raws [][]byte) error
}

// Config tunes the runner. Zero values take the defaults.
type Config struct {
	Now func() time.Time
	// Timezone is the time zone of people without a timezone trait, for journeys that name
	// none (default UTC).
	Timezone *time.Location
	// Poll is how often the timers are looked at (default 250ms): a timer fires at most
	// this late, plus the time to move everyone due before it.
	Poll time.Duration
	// Batch is how many due timers one round moves (default 1000).
	Batch int
	// Processor is the consumer name of the processor's positions: events are handled once
	// the processor applied them, so the person they are about exists. "" does not wait.
	Processor string
	// Scores answers a profile's predictions (for templates and destination sends).
	Scores func(ctx context.Context, ws string, p *kenner.Profile) map[string]any
	// Wake is called after sends were queued for a destination (activation's worker).
	Wake func(destinationID string)
	// Mailer and From send journeys' emails (nil: email steps queue mails that wait for a
	// mail server to be configured).
	Mailer Mailer
	From   *mail.Address
	// PublicURL is where people reach the server (https://cdp.example.com): emails carry a
	// one-click unsubscribe link under it. Sign keys the links (auth.Hasher.Hash).
	PublicURL string
	Sign      func(purpose, msg string) string
	// Cap is the frequency cap of journeys that set none (nil: none).
	Cap *kenner.FrequencyCap
	// Registerer takes the runner's metrics (nil: not exported).
	Registerer prometheus.Registerer
}

// Runner moves people through the live journeys of every workspace.
type Runner struct {
	store   kenner.Store
	log     kenner.Log
	engines Engines
	ingest  Accepter
	cfg     Config
	logger  *slog.Logger

	mu        sync.Mutex
	versions  map[string]*compiled // ws/id/version
	backfills map[string]string    // date journeys' versions: the last profile scheduled
	live      atomic.Pointer[liveSet]
	wake      chan struct{}
	changed   chan struct{} // closed (and replaced) when journeys change: wakes the idle readers
	gen       atomic.Int64  // grows with every Changed: a live set read before one is not kept
	metrics   *metrics
}

// New returns a Runner.
func New(store kenner.Store, log kenner.Log, engines Engines, ingest Accepter, cfg Config, logger *slog.Logger) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timezone == nil {
		cfg.Timezone = time.UTC
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, log: log, engines: engines, ingest: ingest, cfg: cfg, logger: logger,
		versions: map[string]*compiled{}, backfills: map[string]string{}, wake: make(chan struct{}, 1), changed: make(chan struct{}),
		metrics: newMetrics(cfg.Registerer)}
}

// Run moves people until ctx is done: timers, the changes stream (segment entries, exits)
// and the event log (event entries, waits for events, goals).
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { supervisor.Run(ctx, r.logger, "journey timers", r.runTimers) })
	wg.Go(func() { supervisor.Run(ctx, r.logger, "journey changes", r.runChanges) })
	if r.log != nil {
		for part := range r.log.Partitions() {
			wg.Go(func() {
				supervisor.Run(ctx, r.logger, fmt.Sprintf("journey events %d", part), func(ctx context.Context) error { return r.followEvents(ctx, part) })
			})
		}
	}
	wg.Wait()
}

// Changed drops what the runner holds of a workspace's journeys after one was published,
// paused or archived, and wakes the timers.
func (r *Runner) Changed() {
	r.gen.Add(1)
	r.live.Store(nil)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Check compiles a definition as publishing it would, against the workspace's current
// segments, traits and destinations, and checks that the traits its conditions read exist:
// what cannot run is refused with the step and reason.
func (r *Runner) Check(ctx context.Context, ws string, def kenner.JourneyDefinition) error {
	c, err := r.compile(ctx, ws, "check", 0, def)
	if err != nil {
		return err
	}
	if err := r.checkTraits(ctx, c); err != nil {
		return err
	}
	if t := def.Tracking; t != nil && (t.Opens || t.Clicks) && (r.cfg.PublicURL == "" || r.cfg.Sign == nil) {
		return kenner.Errorf(kenner.EInvalid, "tracking: opens and clicks are recorded through links to this server: start kenner serve with --public-url")
	}
	for _, s := range def.Steps {
		if s.Type == kenner.StepEmail && r.cfg.Mailer == nil {
			return stepError(s, "no mail server is configured: start kenner serve with --smtp-url and --email-from")
		}
	}
	return nil
}

func (r *Runner) compile(ctx context.Context, ws, id string, version int, def kenner.JourneyDefinition) (*compiled, error) {
	eng, err := r.engines.Engine(ctx, ws)
	if err != nil {
		return nil, err
	}
	dests, err := r.store.Destinations(ctx, ws)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, d := range dests {
		ids[d.ID] = true
	}
	return compile(ws, id, version, def, eng, ids, r.cfg.Timezone)
}

// version is a journey version compiled, cached while the workspace's engine stays the same.
func (r *Runner) version(ctx context.Context, ws, id string, v int) (*compiled, error) {
	eng, err := r.engines.Engine(ctx, ws)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%s/%d", ws, id, v)
	r.mu.Lock()
	c := r.versions[key]
	r.mu.Unlock()
	if c != nil && c.eng == eng {
		return c, nil
	}
	jv, err := r.store.JourneyVersion(ctx, ws, id, v)
	if err != nil {
		return nil, err
	}
	if c, err = r.compile(ctx, ws, id, v, jv.Definition); err != nil {
		return nil, err
	}
	c.published = jv.PublishedAt
	r.mu.Lock()
	r.versions[key] = c
	r.mu.Unlock()
	return c, nil
}

// liveSet is what the consumers look up per change and event: the live journeys of each
// workspace by how people enter, and which events any journey in flight reacts to.
type liveSet struct {
	at   time.Time
	byWS map[string]*wsLive
}

type wsLive struct {
	journeys   map[string]*kenner.Journey
	bySegment  map[string][]*compiled
	byEvent    map[string][]*compiled
	byDate     []*compiled     // journeys entered on a date in a trait
	byAudience []*compiled     // one-off audiences: everyone in a segment at publication
	events     map[string]bool // events a wait, a goal or an entry reacts to
	exits      bool            // some journey in flight has an exit condition
}

// refreshLive bounds how stale the live set may be when another node changed a journey.
const refreshLive = 2 * time.Second

func (r *Runner) liveJourneys(ctx context.Context) (*liveSet, error) {
	if l := r.live.Load(); l != nil && time.Since(l.at) < refreshLive {
		return l, nil
	}
	gen := r.gen.Load()
	js, err := r.store.Journeys(ctx, "")
	if err != nil {
		return nil, err
	}
	l := &liveSet{at: time.Now(), byWS: map[string]*wsLive{}}
	for i := range js {
		j := &js[i]
		if j.Version == 0 || j.Status == kenner.JourneyArchived || j.Status == kenner.JourneyDraft {
			continue
		}
		w := l.byWS[j.WorkspaceID]
		if w == nil {
			w = &wsLive{journeys: map[string]*kenner.Journey{}, bySegment: map[string][]*compiled{}, byEvent: map[string][]*compiled{}, events: map[string]bool{}}
			l.byWS[j.WorkspaceID] = w
		}
		w.journeys[j.ID] = j
		// People in flight may be on any version: their waits and goals count.
		for v := 1; v <= j.Version; v++ {
			c, err := r.version(ctx, j.WorkspaceID, j.ID, v)
			if err != nil {
				r.logger.Warn("journey version does not compile", "journey", j.ID, "version", v, "err", err)
				continue
			}
			w.exits = w.exits || c.exit != nil
			for ev := range c.goals {
				w.events[ev] = true
			}
			for _, s := range c.steps {
				if s.Type == kenner.StepWaitEvent {
					w.events[s.Event] = true
				}
			}
			if v != j.Version || j.Status != kenner.JourneyLive {
				continue
			}
			switch {
			case c.def.Entry.Segment != "":
				w.bySegment[c.def.Entry.Segment] = append(w.bySegment[c.def.Entry.Segment], c)
			case c.def.Entry.Date != nil:
				w.byDate = append(w.byDate, c)
			case c.def.Entry.Audience != "":
				w.byAudience = append(w.byAudience, c)
			default:
				w.byEvent[c.def.Entry.Event] = append(w.byEvent[c.def.Entry.Event], c)
				w.events[c.def.Entry.Event] = true
			}
		}
	}
	if r.gen.Load() == gen {
		// A set read while a journey changed may miss the change: used once, not kept.
		r.live.Store(l)
	}
	return l, nil
}

// runTimers moves the people whose timers are due, then sleeps until the next poll.
func (r *Runner) runTimers(ctx context.Context) error {
	for {
		n, err := r.Tick(ctx)
		if err != nil {
			return err
		}
		if err := r.backfill(ctx); err != nil {
			return err
		}
		if n >= r.cfg.Batch {
			continue // more are due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(r.cfg.Poll):
		}
	}
}

// Tick moves everyone whose timer is due now (one batch) and returns how many timers it
// found. Tests drive it with their own clock.
func (r *Runner) Tick(ctx context.Context) (int, error) {
	now := r.cfg.Now().UTC()
	due, err := r.store.DueEnrollments(ctx, now, r.cfg.Batch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	l, err := r.liveJourneys(ctx)
	if err != nil {
		return 0, err
	}
	rd := r.newRound(now)
	for _, e := range due {
		w := l.byWS[e.WorkspaceID]
		if w == nil || w.journeys[e.JourneyID] == nil || w.journeys[e.JourneyID].Status != kenner.JourneyLive {
			continue // paused: the timer fires when it is live again
		}
		r.metrics.lateness.Observe(now.Sub(e.DueAt).Seconds())
		if err := rd.fire(ctx, e); err != nil {
			return 0, err
		}
	}
	return len(due), rd.write(ctx, kenner.Position{})
}

// hash01 is a stable number in [0, 1) for a person and a purpose (holdout, split).
func hash01(parts ...string) float64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return float64(binary.BigEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
}

var errGone = errors.New("the person is gone (erased)")

// traitSample is how many profiles the trait check looks at.
const traitSample = 1000

// checkTraits refuses a condition on a trait no person has: a typo (traits.vpi) would send
// everyone down the "else" branch without a word. The traits known are those of the first
// profiles of the workspace, the date trait and the traits the journey sets itself; a
// workspace without profiles yet is not checked.
func (r *Runner) checkTraits(ctx context.Context, c *compiled) error {
	last, n, err := r.store.ProfilePage(ctx, c.ws, "", traitSample)
	if err != nil || n == 0 {
		return err
	}
	ps, err := r.store.ScanProfiles(ctx, c.ws, "", last, &kenner.ProfileFields{AllTraits: true})
	if err != nil {
		return err
	}
	known := map[string]bool{"timezone": true}
	for _, p := range ps {
		for name := range p.Traits {
			known[name] = true
		}
	}
	for _, s := range c.def.Steps {
		if s.Type == kenner.StepSetTrait {
			known[s.Trait] = true
		}
	}
	unknown := func(rule *segment.Rule) string {
		for _, name := range rule.Traits() {
			if !known[name] {
				return name
			}
		}
		return ""
	}
	if c.exit != nil {
		if name := unknown(c.exit); name != "" {
			return kenner.Errorf(kenner.EInvalid, "exit reads traits.%s, which none of the first %d profiles has (a typo?)", name, len(ps))
		}
	}
	for _, s := range c.def.Steps {
		if st := c.steps[s.ID]; st.rule != nil {
			if name := unknown(st.rule); name != "" {
				return stepError(s, "the condition reads traits.%s, which none of the first %d profiles has (a typo?)", name, len(ps))
			}
		}
	}
	return nil
}
