package trackingplan

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/compiled"
)

// Store is what enforcing plans needs from the store.
type Store interface {
	AddViolations(ctx context.Context, workspaceID string, vs []kenner.ViolationCount) error
	Quarantine(ctx context.Context, es []kenner.QuarantinedEvent) error
}

// Enforcer checks messages against their source's plan, counts violations (written to the
// store in the background, once a second, so that a flood of bad events costs no store
// write each) and quarantines blocked events (written at once: they are acknowledged).
type Enforcer struct {
	store  Store
	logger *slog.Logger

	mu      sync.Mutex
	plans   *compiled.Cache[kenner.TrackingPlan, *Plan] // by source id
	pending map[countKey]*kenner.ViolationCount
}

type countKey struct {
	ws string
	kenner.Violation
	source string
}

// NewEnforcer returns an Enforcer writing to store.
func NewEnforcer(store Store, logger *slog.Logger) *Enforcer {
	return &Enforcer{store: store, logger: logger, plans: compiled.New(Compile), pending: map[countKey]*kenner.ViolationCount{}}
}

// plan returns a source's compiled plan (nil when it has none).
func (e *Enforcer) plan(src *kenner.Source) (*Plan, error) {
	if src.Settings.TrackingPlan == nil {
		return nil, nil
	}
	return e.plans.Get(src.ID, src.Settings.TrackingPlan)
}

// Check judges one message of a source and counts its violations.
func (e *Enforcer) Check(src *kenner.Source, body []byte, at time.Time) (Verdict, error) {
	p, err := e.plan(src)
	if err != nil || p == nil {
		// A plan that no longer compiles (saved by an older version) must not stop the
		// source: its events pass, and the error is logged.
		if err != nil {
			e.logger.Warn("tracking plan does not compile; events pass unchecked", "source", src.ID, "err", err)
		}
		return Verdict{Action: kenner.PlanAllow}, nil
	}
	v, err := p.Check(body)
	if err != nil || len(v.Violations) == 0 {
		return v, err
	}
	e.mu.Lock()
	for _, vi := range v.Violations {
		k := countKey{ws: src.WorkspaceID, Violation: vi, source: src.ID}
		c := e.pending[k]
		if c == nil {
			c = &kenner.ViolationCount{SourceID: src.ID, Violation: vi, FirstSeen: at, LastSeen: at}
			e.pending[k] = c
		}
		c.Count++
		c.FirstSeen, c.LastSeen = minTime(c.FirstSeen, at), maxTime(c.LastSeen, at)
	}
	e.mu.Unlock()
	return v, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Quarantine stores blocked events.
func (e *Enforcer) Quarantine(ctx context.Context, es []kenner.QuarantinedEvent) error {
	return e.store.Quarantine(ctx, es)
}

// Flush writes the counted violations. Counts that fail to write are kept for the next try.
func (e *Enforcer) Flush(ctx context.Context) error {
	e.mu.Lock()
	pending := e.pending
	e.pending = map[countKey]*kenner.ViolationCount{}
	e.mu.Unlock()
	byWS := map[string][]kenner.ViolationCount{}
	for k, c := range pending {
		byWS[k.ws] = append(byWS[k.ws], *c)
	}
	var first error
	for ws, vs := range byWS {
		if err := e.store.AddViolations(ctx, ws, vs); err != nil {
			if first == nil {
				first = err
			}
			e.mu.Lock()
			for _, c := range vs {
				k := countKey{ws: ws, Violation: c.Violation, source: c.SourceID}
				if p := e.pending[k]; p != nil {
					p.Count += c.Count
					p.FirstSeen, p.LastSeen = minTime(p.FirstSeen, c.FirstSeen), maxTime(p.LastSeen, c.LastSeen)
				} else {
					c := c
					e.pending[k] = &c
				}
			}
			e.mu.Unlock()
		}
	}
	return first
}

// Run flushes counts every interval until ctx ends, then once more.
func (e *Enforcer) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := e.Flush(final); err != nil {
				e.logger.Error("write tracking plan violations", "err", err)
			}
			return
		case <-t.C:
			if err := e.Flush(ctx); err != nil && ctx.Err() == nil {
				e.logger.Warn("write tracking plan violations; will retry", "err", err)
			}
		}
	}
}
