package process

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Builder keeps memberships true when no event arrives: it recomputes every profile of a
// workspace after its computed traits or segments change (the build, with progress in the
// store), and re-evaluates profiles whose windowed values move out of their window (the sweep).
type Builder struct {
	proc     *Processor
	store    kenner.Store
	logger   *slog.Logger
	interval time.Duration
	batch    int
	wake     chan struct{}
	// built remembers, per workspace, the aggregates the last build computed: a build whose
	// definitions add none (a new segment over traits) need not read the events again.
	built map[string]map[string]bool
}

// NewBuilder returns a Builder that looks for work every interval and when woken.
func NewBuilder(proc *Processor, store kenner.Store, interval time.Duration, logger *slog.Logger) *Builder {
	if interval <= 0 {
		interval = time.Minute
	}
	return &Builder{proc: proc, store: store, logger: logger, interval: interval, batch: 500,
		wake: make(chan struct{}, 1), built: map[string]map[string]bool{}}
}

// Wake makes Run look for work now (after a definitions change).
func (b *Builder) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Run builds and sweeps until ctx is done.
func (b *Builder) Run(ctx context.Context) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		if err := b.Once(ctx); err != nil && ctx.Err() == nil {
			b.logger.Error("segment build or sweep failed; retrying", "err", err, "after", b.interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
	}
}

// Once runs one round: every workspace's pending build, then its sweep.
func (b *Builder) Once(ctx context.Context) error {
	wss, err := b.store.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		if err := b.Build(ctx, ws.ID); err != nil {
			return fmt.Errorf("build %s: %w", ws.ID, err)
		}
		if err := b.Sweep(ctx, ws.ID); err != nil {
			return fmt.Errorf("sweep %s: %w", ws.ID, err)
		}
	}
	return nil
}

// Build recomputes every profile of the workspace if its definitions changed since the last
// build. A change during the build starts it again.
func (b *Builder) Build(ctx context.Context, ws string) error {
	for {
		st, err := b.store.Build(ctx, ws)
		if err != nil || st.Built >= st.Version {
			return err
		}
		eng, err := b.proc.Engine(ctx, ws)
		if err != nil {
			return err
		}
		keys := eng.AggregateKeys()
		events := false
		for k := range keys {
			events = events || !b.built[ws][k]
		}
		total, err := b.store.CountProfiles(ctx, ws)
		if err != nil {
			return err
		}
		start := time.Now()
		processed, after, restart := int64(0), "", false
		for !restart {
			ids, err := b.store.ProfileIDs(ctx, ws, after, b.batch)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			if err := b.proc.Recompute(ctx, ws, ids, events); err != nil {
				return err
			}
			processed += int64(len(ids))
			after = ids[len(ids)-1]
			if err := b.store.SetBuild(ctx, ws, kenner.Build{Built: st.Built, Processed: processed, Total: max(total, processed)}); err != nil {
				return err
			}
			now, err := b.store.Build(ctx, ws)
			if err != nil {
				return err
			}
			restart = now.Version != st.Version
		}
		if restart {
			continue
		}
		if err := b.store.SetBuild(ctx, ws, kenner.Build{Built: st.Version, Processed: processed, Total: processed}); err != nil {
			return err
		}
		b.built[ws] = keys
		b.logger.Info("segments built", "workspace", ws, "version", st.Version, "profiles", processed,
			"events_read", events, "took", time.Since(start).Round(time.Millisecond))
	}
}

// Sweep re-evaluates the profiles whose windowed values changed with time since they were
// last evaluated.
func (b *Builder) Sweep(ctx context.Context, ws string) error {
	now := b.proc.now()
	// Each round moves the profiles' expiry past now; the bound only guards against a bug
	// spinning here.
	for range 10_000 {
		ids, err := b.store.ExpiringProfiles(ctx, ws, now, b.batch)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := b.proc.Recompute(ctx, ws, ids, false); err != nil {
			return err
		}
	}
	return fmt.Errorf("sweep did not finish")
}
