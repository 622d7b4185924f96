package activation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/supervisor"
	"github.com/kenner-cdp/kenner/privacy"
)

// Config tunes delivery. Zero values take the defaults.
type Config struct {
	Senders Senders
	// Poll is how often idle loops look for work another node queued (in one process they
	// are woken at once) and how old the destination list may get (default 1s).
	Poll time.Duration
	// Lease is how long a claimed delivery stays out before another worker may send it again
	// (a node that crashed mid-send); it must exceed the senders' timeouts (default 1m).
	Lease time.Duration
	// BackoffBase and BackoffMax bound the exponential retry delay (defaults 1s, 10m).
	BackoffBase, BackoffMax time.Duration
	// MaxAttempts is the default retry budget of a destination (default 10).
	MaxAttempts int
	// BreakerFailures consecutive failed requests open a destination's circuit (default 5).
	BreakerFailures int
	// Retention is how long delivered deliveries stay in the delivery log (default 7 days);
	// pending ones and dead letters stay until they are delivered or replayed.
	Retention time.Duration
	// Consent is the consent policy: events it drops are not delivered, events it strips are
	// delivered stripped, and destinations with purposes receive only consenting people (nil:
	// no policy; purposes are then checked against people's stated answers, default granted).
	Consent *privacy.ConsentPolicy
	PII     *privacy.PII
	Now     func() time.Time
	// Scores answers a profile's predictions for the deliveries that show the profile (nil:
	// none are shown).
	Scores func(ctx context.Context, ws string, p *kenner.Profile) map[string]any
	// Internal are queues that are not stored destinations (journeys' emails): their
	// workers run beside the destinations', with senders of their types from Senders.
	Internal []kenner.Destination
}

func (c *Config) defaults() {
	if c.PII == nil {
		c.PII = privacy.NewPII(nil)
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 10 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service runs activation: the dispatchers and one worker per active destination.
type Service struct {
	store   kenner.Store
	log     kenner.Log
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time

	routes  atomic.Pointer[routeTable]
	wake    chan struct{} // new changes in the store
	reload  chan struct{}
	mu      sync.Mutex
	workers map[string]*worker
	syncs   syncs
}

// New returns a Service over store and log.
func New(store kenner.Store, log kenner.Log, cfg Config, reg prometheus.Registerer, logger *slog.Logger) *Service {
	cfg.defaults()
	return &Service{store: store, log: log, cfg: cfg, logger: logger, metrics: newMetrics(reg), now: cfg.Now,
		wake: make(chan struct{}, 1), reload: make(chan struct{}, 1), workers: map[string]*worker{}}
}

// Validate checks a destination before it is saved: its type and config (by building its
// sender), its event filter, its mapping and its limits.
func (s *Service) Validate(ctx context.Context, d *kenner.Destination) error {
	if d.Name == "" {
		return Invalid("name is required")
	}
	f, ok := s.cfg.Senders[d.Type]
	if !ok {
		return Invalid("unknown destination type %q (known: %s)", d.Type, s.types())
	}
	if d.RateLimit < 0 || d.BatchSize < 0 || d.Parallel < 0 || d.MaxAttempts < 0 {
		return Invalid("rate_limit, batch_size, parallel and max_attempts must not be negative")
	}
	purposes, err := privacy.CheckPurposes(d.Purposes)
	if err != nil {
		return err
	}
	d.Purposes = purposes
	if d.BatchSize > 1000 || d.Parallel > 64 {
		return Invalid("batch_size is at most 1000 and parallel at most 64")
	}
	if err := ValidateMapping(d.Mapping); err != nil {
		return err
	}
	if _, err := compileRoute(*d); err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	for _, id := range d.Subscribe.Segments {
		if id == "*" {
			continue
		}
		if _, err := s.store.Segment(ctx, d.WorkspaceID, id); err != nil {
			if kenner.ErrorCode(err) == kenner.ENotFound {
				return Invalid("subscribe.segments: no segment %q", id)
			}
			return err
		}
	}
	snd, err := f(*d)
	if err != nil {
		return err
	}
	return snd.Close()
}

func (s *Service) types() string {
	return strings.Join(slices.Sorted(maps.Keys(s.cfg.Senders)), ", ")
}

// Reload reads the destinations again and starts, restarts or stops their workers. The API
// calls it after a change, so the change is in effect when the call answers.
func (s *Service) Reload(ctx context.Context) error {
	dests, err := s.store.Destinations(ctx, "")
	if err != nil {
		return err
	}
	table := &routeTable{byWorkspace: map[string][]*route{}, loaded: s.now()}
	for _, d := range dests {
		r, err := compileRoute(d)
		if err != nil {
			s.logger.Error("destination no longer valid; not routed", "destination", d.ID, "err", err)
			continue
		}
		table.byWorkspace[d.WorkspaceID] = append(table.byWorkspace[d.WorkspaceID], r)
	}
	s.routes.Store(table)
	s.syncWorkers(append(dests, s.cfg.Internal...))
	return nil
}

// loaded are the destinations of the last reload.
func (s *Service) loaded() []kenner.Destination {
	t := s.routes.Load()
	if t == nil {
		return nil
	}
	var out []kenner.Destination
	for _, rs := range t.byWorkspace {
		for _, r := range rs {
			out = append(out, r.dest)
		}
	}
	return out
}

// Wake tells the changes dispatcher that new changes are in the store.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run dispatches and delivers until ctx is done, then stops the workers and waits for them.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
		s.logger.Error("load destinations", "err", err)
	}
	wg.Go(func() { supervisor.Run(ctx, s.logger, "changes dispatcher", s.runChanges) })
	for part := range s.log.Partitions() {
		wg.Go(func() {
			supervisor.Run(ctx, s.logger, fmt.Sprintf("events dispatcher %d", part), func(ctx context.Context) error { return s.runEvents(ctx, part) })
		})
	}
	wg.Go(func() { s.pruneLoop(ctx) })
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	s.startSyncs(ctx, s.loaded())
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("reload destinations", "err", err)
			}
			s.startSyncs(ctx, s.loaded())
		}
	}
	wg.Wait()
	s.syncs.wg.Wait()
	s.syncWorkers(nil)
}

// pruneLoop keeps the delivery log to its retention: at start, then hourly, in bounded
// batches so that the store's writer is never held for long.
func (s *Service) pruneLoop(ctx context.Context) {
	for {
		before := s.now().Add(-s.cfg.Retention)
		for ctx.Err() == nil {
			n, err := s.store.PruneDeliveries(ctx, before, 5000)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.Error("prune delivery log", "err", err)
				}
				break
			}
			s.metrics.pruned.Add(float64(n))
			if n < 5000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// runChanges queues the changes for the destinations that subscribe to them. Changes that
// queue nothing move the stored position at most once a second, and when it has caught up:
// a write per round would queue in front of the processor on the embedded store.
func (s *Service) runChanges(ctx context.Context) error {
	stored, err := s.store.Position(ctx, ChangesConsumer, 0)
	if err != nil {
		return err
	}
	pos, savedPos := int64(stored), int64(stored)
	var saved time.Time
	for {
		ds, last, err := s.changeDeliveries(ctx, pos)
		if err != nil {
			return err
		}
		// Caught up: the position is saved before waiting, so that a quiet store has it.
		idle := last == pos && pos != savedPos
		if len(ds) > 0 || idle || (last != pos && time.Since(saved) >= time.Second) {
			if err := s.enqueue(ctx, kenner.Position{Consumer: ChangesConsumer, Seq: uint64(last)}, ds); err != nil {
				return err
			}
			saved, savedPos = time.Now(), last
		}
		if last != pos {
			pos = last
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-time.After(s.cfg.Poll):
		}
	}
}

// sealedReader is a log that can hand over batches without decrypting them
// (privacy.SealedLog).
type sealedReader interface {
	ReadSealed(ctx context.Context, partition int, after uint64, need func([]kenner.LogRecord) bool,
		fn func(ctx context.Context, recs []kenner.LogRecord, opened bool) error) error
}

var errRouteChanged = errors.New("a destination now takes raw events")

// takesEvents reports whether a destination takes the raw events of some record's workspace.
func (s *Service) takesEvents(recs []kenner.LogRecord) bool {
	routes := s.routes.Load()
	for _, rec := range recs {
		for _, r := range routesOf(routes, rec.WorkspaceID) {
			if r.dest.Subscribe.Events.Enabled {
				return true
			}
		}
	}
	return false
}

func (s *Service) runEvents(ctx context.Context, part int) error {
	pos, err := s.store.Position(ctx, EventsConsumer, part)
	if err != nil {
		return err
	}
	// Records that queue nothing (no destination takes events) move the position at most once
	// a second: saving it each time added a write per batch to the store's single writer, in
	// front of the processor. A restart reads at most that second again.
	var saved time.Time
	read := func(ctx context.Context, recs []kenner.LogRecord) error {
		ds, err := s.eventDeliveries(ctx, recs)
		if err != nil || (len(ds) == 0 && time.Since(saved) < time.Second) {
			return err
		}
		last := recs[len(recs)-1].Seq
		if err := s.enqueue(ctx, kenner.Position{Consumer: EventsConsumer, Partition: part, Seq: last}, ds); err != nil {
			return err
		}
		saved = time.Now()
		return nil
	}
	if sl, ok := s.log.(sealedReader); ok {
		// Decrypt only the batches a destination will read raw events of.
		err = sl.ReadSealed(ctx, part, pos, s.takesEvents, func(ctx context.Context, recs []kenner.LogRecord, opened bool) error {
			if !opened && s.takesEvents(recs) {
				// A destination subscribed between the two looks: read the batch again, opened.
				return errRouteChanged
			}
			// Unopened, the batch queues nothing (no destination takes its events), and its
			// position moves on as for any batch.
			return read(ctx, recs)
		})
	} else {
		err = s.log.Read(ctx, part, pos, read)
	}
	if errors.Is(err, errRouteChanged) {
		return s.runEvents(ctx, part)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// syncWorkers makes the running workers those of the active destinations in dests: a
// changed destination's worker restarts with the new settings.
func (s *Service) syncWorkers(dests []kenner.Destination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]kenner.Destination{}
	for _, d := range dests {
		if !d.Paused {
			want[d.ID] = d
		}
	}
	for id, w := range s.workers {
		if d, ok := want[id]; !ok || !d.UpdatedAt.Equal(w.dest.UpdatedAt) {
			w.stop()
			delete(s.workers, id)
		}
	}
	for id, d := range want {
		if _, ok := s.workers[id]; ok {
			continue
		}
		f := s.cfg.Senders[d.Type]
		if f == nil {
			s.logger.Error("destination of unknown type; not started", "destination", id, "type", d.Type)
			continue
		}
		snd, err := f(d)
		if err != nil {
			s.logger.Error("destination config invalid; not started", "destination", id, "err", err)
			continue
		}
		s.workers[id] = s.startWorker(d, snd)
	}
}

// WakeDestination tells a destination's worker that deliveries were queued for it.
func (s *Service) WakeDestination(id string) { s.wakeWorker(id) }

func (s *Service) wakeWorker(id string) {
	s.mu.Lock()
	w := s.workers[id]
	s.mu.Unlock()
	if w != nil {
		w.wakeUp()
	}
}
