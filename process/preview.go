package process

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

// Preview is how many profiles a condition selects, without saving it.
type Preview struct {
	Count     int64 `json:"count"`
	Evaluated int64 `json:"evaluated"`
	Errors    int64 `json:"errors"` // profiles the condition failed for (a missing trait)
	// ErrorMessages are the first distinct reasons (at most maxErrorMessages), so that a
	// marketer can fix the condition.
	ErrorMessages []string          `json:"error_messages"`
	Sample        []*kenner.Profile `json:"-"`
	Took          time.Duration     `json:"-"`
}

// Preview evaluates seg over the workspace's profiles (at most max of them, 0: all) and keeps
// up to sample members. Event functions the stored definitions do not keep yet are computed
// from each profile's stored events. An invalid condition is kenner.EInvalid.
func (p *Processor) Preview(ctx context.Context, ws string, seg kenner.Segment, max, sample int) (Preview, error) {
	start := time.Now()
	var out Preview
	defs, err := p.definitions(ctx, ws)
	if err != nil {
		return out, err
	}
	if seg.ID == "" {
		seg.ID = "preview"
	}
	defs.Segments = segment.WithSegment(defs.Segments, seg)
	eng, err := segment.CompileDefinitions(defs, p.cfg.Segments)
	if err != nil {
		return out, err
	}
	cur, err := p.Engine(ctx, ws)
	if err != nil {
		return out, err
	}
	have := cur.AggregateKeys()
	missing := map[string]bool{}
	for k := range eng.AggregateKeys() {
		if !have[k] {
			missing[k] = true
		}
	}
	only := map[string]bool{seg.ID: true}
	fields, readsIdentities := eng.Reads(only)
	now := p.now().UTC()
	evaluate := func(ctx context.Context, profiles []*kenner.Profile) (previewPage, error) {
		var pg previewPage
		for _, prof := range profiles {
			var idents []kenner.Identifier
			if readsIdentities {
				var err error
				if idents, err = identifiers(ctx, p.store, ws, prof.ID); err != nil {
					continue // merged or split since listed
				}
			}
			if len(missing) > 0 {
				if err := p.foldStored(ctx, ws, eng, prof, missing); err != nil {
					return pg, err
				}
			}
			res := eng.Evaluate(eng.Input(prof, idents, now), prof.Segments, only)[seg.ID]
			pg.evaluated++
			if res.Err != nil {
				pg.errors++
				pg.messages = addMessage(pg.messages, res.Err.Error())
			}
			if res.Member {
				pg.count++
				if len(pg.sample) < sample {
					pg.sample = append(pg.sample, prof)
				}
			}
		}
		return pg, nil
	}
	err = pages(ctx, p.store, ws, max, fields, evaluate, func(pg previewPage) error {
		out.Count += pg.count
		out.Evaluated += pg.evaluated
		out.Errors += pg.errors
		for _, m := range pg.messages {
			out.ErrorMessages = addMessage(out.ErrorMessages, m)
		}
		for _, prof := range pg.sample {
			if len(out.Sample) < sample {
				out.Sample = append(out.Sample, prof)
			}
		}
		return nil
	})
	if err == nil && len(out.Sample) > 0 {
		err = p.wholeSample(ctx, ws, &out)
	}
	out.Took = time.Since(start)
	return out, err
}

// maxErrorMessages is how many distinct reasons a preview reports.
const maxErrorMessages = 3

// addMessage adds m to ms unless it is there or ms is full.
func addMessage(ms []string, m string) []string {
	if len(ms) >= maxErrorMessages || slices.Contains(ms, m) {
		return ms
	}
	return append(ms, m)
}

// wholeSample reads the sample's profiles again in full, identities included: the pass read
// only what the condition needed. A member merged away since is left out.
func (p *Processor) wholeSample(ctx context.Context, ws string, out *Preview) error {
	sample := out.Sample
	out.Sample = out.Sample[:0:0]
	for _, prof := range sample {
		whole, err := p.store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: prof.ID})
		if kenner.ErrorCode(err) == kenner.ENotFound {
			continue
		}
		if err != nil {
			return err
		}
		out.Sample = append(out.Sample, whole)
	}
	return nil
}

// previewPage is what one page of profiles adds to a preview.
type previewPage struct {
	count, evaluated, errors int64
	messages                 []string
	sample                   []*kenner.Profile
}

// pages divides the workspace's profiles (at most max, 0: all) into pages of 1,000, and on
// one worker per core reads each page's profiles (the fields of them that work needs: reading
// and decoding profile documents is most of a preview's time) and runs work on them. It hands
// the results to add in page order, so that a preview's sample does not depend on which
// worker finished first. An error from add stops it.
func pages[T any](ctx context.Context, store kenner.Store, ws string, max int, fields *kenner.ProfileFields,
	work func(context.Context, []*kenner.Profile) (T, error), add func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The lister stops when ctx is done, and the workers once it has.
	defer func() { cancel(); wg.Wait() }()
	type job struct {
		after, last string // the page: ids after the one, up to the other
		done        chan T
		err         chan error
	}
	jobs := make(chan *job)
	order := make(chan *job, runtime.GOMAXPROCS(0)*2)
	listErr := make(chan error, 1)
	wg.Go(func() {
		defer close(jobs)
		defer close(order)
		after, listed := "", 0
		for max == 0 || listed < max {
			n := 1000
			if max > 0 {
				n = min(n, max-listed)
			}
			last, got, err := store.ProfilePage(ctx, ws, after, n)
			if err != nil {
				listErr <- err
				return
			}
			if got == 0 {
				return
			}
			j := &job{after: after, last: last, done: make(chan T, 1), err: make(chan error, 1)}
			after, listed = last, listed+got
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				// The page's range, read in key order: profiles created in it since it was
				// listed are evaluated too, which is harmless.
				profiles, err := store.ScanProfiles(ctx, ws, j.after, j.last, fields)
				var pg T
				if err == nil {
					pg, err = work(ctx, profiles)
				}
				if err != nil {
					j.err <- err
					continue
				}
				j.done <- pg
			}
		})
	}
	for j := range order {
		select {
		case pg := <-j.done:
			if err := add(pg); err != nil {
				return err
			}
		case err := <-j.err:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case err := <-listErr:
		return err
	default:
		return ctx.Err()
	}
}

// foldStored folds a profile's stored events into the aggregates in only.
func (p *Processor) foldStored(ctx context.Context, ws string, eng *segment.Engine, prof *kenner.Profile, only map[string]bool) error {
	f := kenner.EventFilter{WorkspaceID: ws, ProfileID: prof.ID, Limit: kenner.MaxPageLimit}
	for {
		events, next, err := p.store.Events(ctx, f)
		if err != nil {
			return err
		}
		for i := range events {
			if _, err := eng.FoldOnly(prof, &events[i], only); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		c, err := kenner.ParseEventCursor(next)
		if err != nil {
			return err
		}
		f.After = &c
	}
}
