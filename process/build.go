package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
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
	// built remembers, per workspace, the definitions the last build computed: a build whose
	// definitions add no aggregate (a new segment over traits) need not read the events again,
	// and need evaluate only the segments whose definitions changed.
	built map[string]*segment.Engine
	// counted is what was last recorded of each workspace's segment counts (for the trends);
	// profilesCounted when its profiles were last counted, and how long that took.
	counted         map[string]counted
	profilesCounted map[string]counting
}

type counting struct {
	at   time.Time
	took time.Duration
}

// recountAfter is how long after a count of the workspace's profiles that took took the next
// one is due: a hundred times as long, so that counting costs at most a hundredth of a core,
// from every recountFloor (a small workspace's overview is current) to every countEvery (a
// million profiles take seconds to count).
func (b *Builder) recountAfter(took time.Duration) time.Duration {
	return min(max(100*took, b.recountFloor()), countEvery)
}

// recountFloor is the shortest time between two counts of a workspace's profiles.
func (b *Builder) recountFloor() time.Duration { return min(b.interval, 10*time.Second) }

// counted is a workspace's last record of segment counts: when, which segments, and how long
// counting their members took.
type counted struct {
	at   time.Time
	took time.Duration
	ids  map[string]bool
}

// countEvery is how often a workspace's segment member counts are recorded: the day's last
// record is the day's count.
const countEvery = 10 * time.Minute

// NewBuilder returns a Builder that looks for work every interval and when woken.
func NewBuilder(proc *Processor, store kenner.Store, interval time.Duration, logger *slog.Logger) *Builder {
	if interval <= 0 {
		interval = time.Minute
	}
	return &Builder{proc: proc, store: store, logger: logger, interval: interval, batch: 500,
		wake: make(chan struct{}, 1), built: map[string]*segment.Engine{}, counted: map[string]counted{}, profilesCounted: map[string]counting{}}
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
	// Profiles are counted more often than the sweep runs (recountAfter decides when).
	counts := time.NewTicker(b.recountFloor())
	defer counts.Stop()
	for {
		if err := b.Once(ctx); err != nil && ctx.Err() == nil {
			b.logger.Error("segment build or sweep failed; retrying", "err", err, "after", b.interval)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				waiting = false
			case <-b.wake:
				waiting = false
			case <-counts.C:
				if err := b.countAll(ctx); err != nil && ctx.Err() == nil {
					b.logger.Error("counting profiles failed", "err", err)
				}
			}
		}
	}
}

// countAll records the counts that are due in every workspace.
func (b *Builder) countAll(ctx context.Context) error {
	wss, err := b.store.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		if err := b.Count(ctx, ws.ID, false); err != nil {
			return fmt.Errorf("count %s: %w", ws.ID, err)
		}
	}
	return nil
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
		if err := b.Count(ctx, ws.ID, false); err != nil {
			return fmt.Errorf("count %s: %w", ws.ID, err)
		}
	}
	return nil
}

// Count records the workspace's segment member counts as today's (UTC): as often as recountAfter allows,
// when a segment became ready since the last record (a new one has its first day at once),
// or when now. The workspace's profile and identified counts are recorded beside them as
// often as recountAfter allows.
func (b *Builder) Count(ctx context.Context, ws string, now bool) error {
	at := b.proc.now().UTC()
	last := b.counted[ws]
	// The console's segment list shows these counts: as often as counting costs at most a
	// hundredth of a core (every 10 s on a small workspace and at a million profiles, where
	// it takes a tenth of a second), at least every countEvery.
	due := now || at.Sub(last.at) >= b.recountAfter(last.took)
	if eng := b.built[ws]; !due && eng != nil {
		// The segments of the last build, from memory: counting members is what waits.
		for _, s := range eng.Segments() {
			due = due || !last.ids[s.ID]
		}
	}
	counts := map[string]int64{}
	var ids map[string]bool
	var took time.Duration
	if due {
		segs, err := b.store.Segments(ctx, ws)
		if err != nil {
			return err
		}
		start := time.Now()
		members, err := b.store.CountMembers(ctx, ws)
		if err != nil {
			return err
		}
		took = time.Since(start)
		ids = make(map[string]bool, len(segs))
		for _, s := range segs {
			if s.State == kenner.SegmentReady {
				counts[s.ID], ids[s.ID] = members[s.ID], true
			}
		}
	}
	if pc, ok := b.profilesCounted[ws]; !ok || at.Sub(pc.at) >= b.recountAfter(pc.took) {
		start := time.Now()
		var err error
		if counts[kenner.CountOfProfiles], err = b.store.CountProfiles(ctx, ws); err != nil {
			return err
		}
		if counts[kenner.CountOfIdentified], err = b.store.CountIdentified(ctx, ws); err != nil {
			return err
		}
		b.profilesCounted[ws] = counting{at: at, took: time.Since(start)}
	}
	if len(counts) == 0 && !due {
		return nil
	}
	if err := b.store.RecordSegmentCounts(ctx, ws, at.Format(time.DateOnly), counts); err != nil {
		return err
	}
	if due {
		b.counted[ws] = counted{at: at, took: took, ids: ids}
	}
	return nil
}

// Build recomputes every profile of the workspace if its definitions changed since the last
// build. A change during the build starts it again.
func (b *Builder) Build(ctx context.Context, ws string) error {
	for {
		st, err := b.store.Build(ctx, ws)
		if err != nil {
			return err
		}
		if st.Built >= st.Version {
			// Built before this process started: the profiles keep every aggregate of the
			// current definitions, so the next change need not read events for those.
			if _, known := b.built[ws]; !known && st.Version > 0 {
				eng, err := b.proc.Engine(ctx, ws)
				if err != nil {
					return err
				}
				// Only if the definitions did not change while the engine was read.
				if now, err := b.store.Build(ctx, ws); err == nil && now.Version == st.Version {
					b.built[ws] = eng
				}
			}
			return nil
		}
		eng, err := b.proc.Engine(ctx, ws)
		if err != nil {
			return err
		}
		old := b.built[ws]
		var have map[string]bool
		if old != nil {
			have = old.AggregateKeys()
		}
		events := false
		for k := range eng.AggregateKeys() {
			events = events || !have[k]
		}
		total, err := b.store.CountProfiles(ctx, ws)
		if err != nil {
			return err
		}
		start := time.Now()
		processed, written, after, restart := int64(0), int64(0), "", false
		if !events {
			processed, written, restart, err = b.evaluateOnly(ctx, ws, st, total, eng, old)
			if err != nil {
				return err
			}
		}
		for events && !restart {
			ids, err := b.store.ProfileIDs(ctx, ws, after, b.batch)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			if err := b.proc.Recompute(ctx, ws, ids, events, nil); err != nil {
				return err
			}
			processed += int64(len(ids))
			written = processed
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
		b.built[ws] = eng
		b.logger.Info("segments built", "workspace", ws, "version", st.Version, "profiles", processed,
			"written", written, "events_read", events, "took", time.Since(start).Round(time.Millisecond))
	}
}

// evaluateOnly builds definitions that need no new aggregates (a new segment over traits,
// computed traits or event functions already kept), given the definitions old last built:
// profiles are read and evaluated on every core, as a preview is, for the segments whose
// definitions changed only, and reading only what those conditions read. Only the profiles
// whose memberships change, or that hold what the definitions dropped, are recomputed and
// written, in transactions of b.batch. A profile the processor changes meanwhile is
// evaluated by the processor under the new definitions too. It reports how many profiles it
// evaluated and wrote, and whether the definitions changed under it.
func (b *Builder) evaluateOnly(ctx context.Context, ws string, st kenner.Build, total int64, eng, old *segment.Engine) (evaluated, written int64, restart bool, err error) {
	only := eng.Since(old)
	dropped := map[string]bool{} // aggregates old kept and eng does not
	if old != nil {
		keep := eng.AggregateKeys()
		for k := range old.AggregateKeys() {
			if !keep[k] {
				dropped[k] = true
			}
		}
	}
	if len(only) == 0 && len(dropped) == 0 && len(eng.Deleted(old)) == 0 {
		return 0, 0, false, nil // a renamed segment: no membership can change
	}
	fields, readsIdentities := eng.Reads(only)
	maps.Copy(fields.Aggregates, dropped)
	now := b.proc.now().UTC()
	type page struct {
		evaluated int64
		changed   []string
	}
	scan := func(ctx context.Context, profiles []*kenner.Profile) (page, error) {
		var pg page
		for _, prof := range profiles {
			pg.evaluated++
			changed := false
			for id := range prof.Segments {
				_, exists := eng.Segment(id)
				changed = changed || !exists
			}
			for k := range prof.Aggregates {
				changed = changed || dropped[k]
			}
			if changed {
				pg.changed = append(pg.changed, prof.ID)
				continue
			}
			var idents []kenner.Identifier
			if readsIdentities {
				var err error
				if idents, err = identifiers(ctx, b.store, ws, prof.ID); err != nil {
					continue // merged away or split since it was read
				}
			}
			for seg, r := range eng.Evaluate(eng.Input(prof, idents, now), prof.Segments, only) {
				_, was := prof.Segments[seg]
				changed = changed || r.Member != was
			}
			if changed {
				pg.changed = append(pg.changed, prof.ID)
			}
		}
		return pg, nil
	}
	// The profiles that change are written by one goroutine while the pass goes on: the
	// store has one writer, and the pass spreads over the cores. A failed write stops the pass.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writes := make(chan []string, 2)
	var writeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for ids := range writes {
			if writeErr != nil {
				continue
			}
			if writeErr = b.proc.Recompute(ctx, ws, ids, false, only); writeErr != nil {
				cancel()
				continue
			}
			written += int64(len(ids))
		}
	})
	var pending []string
	send := func(all bool) {
		for len(pending) >= b.batch || all && len(pending) > 0 {
			n := min(len(pending), b.batch)
			select {
			case writes <- pending[:n:n]:
			case <-ctx.Done():
				return
			}
			pending = pending[n:]
		}
	}
	errRestart := errors.New("definitions changed")
	// Progress is saved, and the definitions checked, a few times a second: each is a
	// transaction, and a page takes a few milliseconds.
	var saved time.Time
	err = pages(ctx, b.store, ws, 0, fields, scan, func(pg page) error {
		evaluated += pg.evaluated
		pending = append(pending, pg.changed...)
		send(false)
		if time.Since(saved) < progressEvery {
			return nil
		}
		saved = time.Now()
		if err := b.store.SetBuild(ctx, ws, kenner.Build{Built: st.Built, Processed: evaluated, Total: max(total, evaluated)}); err != nil {
			return err
		}
		now, err := b.store.Build(ctx, ws)
		if err != nil {
			return err
		}
		if now.Version != st.Version {
			restart = true
			return errRestart
		}
		return nil
	})
	if err == nil {
		send(true)
	}
	close(writes)
	wg.Wait()
	switch {
	case writeErr != nil:
		return evaluated, written, false, writeErr
	case restart:
		return evaluated, written, true, nil
	}
	return evaluated, written, false, err
}

// progressEvery is how often a build saves its progress.
const progressEvery = 250 * time.Millisecond

// Sweep re-evaluates the profiles whose windowed values changed with time since they were
// last evaluated.
func (b *Builder) Sweep(ctx context.Context, ws string) error {
	now := b.proc.now()
	eng, err := b.proc.Engine(ctx, ws)
	if err != nil {
		return err
	}
	// Only conditions over windowed values change as time passes. A segment created since
	// the engine was read is the build's to evaluate.
	windowed := eng.Windowed()
	// Each round moves the profiles' expiry past now; the bound only guards against a bug
	// spinning here.
	for range 10_000 {
		ids, err := b.store.ExpiringProfiles(ctx, ws, now, b.batch)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := b.proc.Recompute(ctx, ws, ids, false, windowed); err != nil {
			return err
		}
	}
	return fmt.Errorf("sweep did not finish")
}
