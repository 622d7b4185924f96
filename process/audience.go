package process

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

// engines caches each workspace's compiled definitions by definitions version.
type engines struct {
	mu   sync.Mutex
	byWS map[string]cachedEngine
}

type cachedEngine struct {
	version int64
	engine  *segment.Engine
}

var emptyEngine, _ = segment.Compile(nil, nil, segment.Options{})

// engine returns the workspace's compiled definitions at the version the transaction sees.
// The version is read inside the transaction after the profiles are locked, so a build that
// recomputed them (under the same locks) used the same definitions or older ones.
func (p *Processor) engine(ctx context.Context, b kenner.Batch, ws string) (*segment.Engine, error) {
	v, err := b.DefinitionsVersion(ctx, ws)
	if err != nil {
		return nil, err
	}
	p.engines.mu.Lock()
	c, ok := p.engines.byWS[ws]
	p.engines.mu.Unlock()
	if ok && c.version == v {
		return c.engine, nil
	}
	if v == 0 {
		return emptyEngine, nil
	}
	defs, err := p.definitions(ctx, ws)
	if err != nil {
		return nil, err
	}
	eng, err := segment.CompileDefinitions(defs, p.cfg.Segments)
	if err != nil {
		// The API checks every change against the whole set, so this is a bug or a store edited
		// by hand. Stopping the partition would stop all processing: keep the last good engine.
		p.logger.Error("definitions do not compile; keeping the previous ones", "workspace", ws, "version", v, "err", err)
		if ok {
			return c.engine, nil
		}
		return emptyEngine, nil
	}
	p.engines.mu.Lock()
	if p.engines.byWS == nil {
		p.engines.byWS = map[string]cachedEngine{}
	}
	p.engines.byWS[ws] = cachedEngine{version: v, engine: eng}
	p.engines.mu.Unlock()
	return eng, nil
}

// Scores is a profile's predictions with the definitions the processor last compiled for the
// workspace (for delivery payloads: no store round trip per delivery; a new training shows with
// the processor's next batch of that workspace).
func (p *Processor) Scores(ctx context.Context, ws string, prof *kenner.Profile) map[string]any {
	p.engines.mu.Lock()
	c, ok := p.engines.byWS[ws]
	p.engines.mu.Unlock()
	eng := c.engine
	if !ok {
		var err error
		if eng, err = p.Engine(ctx, ws); err != nil {
			return nil
		}
	}
	return eng.Predictions(prof, p.now())
}

// definitions reads what a workspace's engine compiles.
func (p *Processor) definitions(ctx context.Context, ws string) (segment.Definitions, error) {
	var d segment.Definitions
	var err error
	if d.Traits, err = p.store.ComputedTraits(ctx, ws); err != nil {
		return d, err
	}
	if d.Segments, err = p.store.Segments(ctx, ws); err != nil {
		return d, err
	}
	if d.Models, err = p.store.Models(ctx, ws); err != nil {
		return d, err
	}
	return d, nil
}

// Engine returns the workspace's compiled definitions as the store has them now (for the API:
// computed values, previews).
func (p *Processor) Engine(ctx context.Context, ws string) (*segment.Engine, error) {
	var eng *segment.Engine
	err := p.store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
		var err error
		eng, err = p.engine(ctx, b, ws)
		return err
	})
	return eng, err
}

// evaluate tidies the aggregates of the profiles about to be saved, re-evaluates the segments
// their changes can affect, and records entries, exits and (announce) profile updates. ids are
// the profiles' identifiers (for conditions over identities); gone are profiles merged away.
func (p *Processor) evaluate(ctx context.Context, b kenner.Batch, ws string, eng *segment.Engine, profiles []*kenner.Profile,
	changes map[string]*segment.Change, ids map[string][]kenner.Identifier, gone []*kenner.Profile, announce bool) error {
	now := p.now().UTC()
	var ms []kenner.MembershipEvent
	var updates []kenner.Change
	// A profile merged away leaves its segments; the survivor is evaluated on its own.
	for _, g := range gone {
		for _, seg := range sortedKeys(g.Segments) {
			ms = append(ms, kenner.MembershipEvent{SegmentID: seg, ProfileID: g.ID, Entered: false, At: now})
		}
	}
	for _, prof := range profiles {
		eng.Tidy(prof, now)
		ch := changes[prof.ID]
		if ch == nil {
			continue
		}
		if announce && (len(ch.Traits) > 0 || ch.Identities || ch.All || ch.Split) {
			what := map[string]any{}
			if len(ch.Traits) > 0 {
				what["traits"] = dedupeStrings(ch.Traits)
			}
			if ch.Identities {
				what["identities"] = true
			}
			if ch.All {
				what["merged"] = true
			}
			if ch.Split {
				what["split"] = true
			}
			data, _ := json.Marshal(what)
			updates = append(updates, kenner.Change{WorkspaceID: ws, Type: kenner.ChangeProfileUpdated, ProfileID: prof.ID, At: now, Data: data})
		}
		only := eng.Affected(*ch)
		if only == nil {
			continue
		}
		in := eng.Input(prof, ids[prof.ID], now)
		res := eng.Evaluate(in, prof.Segments, only)
		pm := p.memberships(prof, res, now)
		ms = append(ms, pm...)
		updates = append(updates, leadChanges(eng, ws, prof, pm, now)...)
	}
	if err := b.AddChanges(ctx, updates); err != nil {
		return err
	}
	return b.WriteMemberships(ctx, ws, ms)
}

// leadChanges turns a profile's entries and exits of lead stage segments into one
// lead.stage_changed per model whose stage moved: the hand-off destinations act on.
func leadChanges(eng *segment.Engine, ws string, prof *kenner.Profile, ms []kenner.MembershipEvent, now time.Time) []kenner.Change {
	type move struct{ name, id, from, to string }
	var moves []*move
	byModel := map[string]*move{}
	for _, m := range ms {
		name, id, stage, ok := eng.LeadStageOf(m.SegmentID)
		if !ok {
			continue
		}
		mv := byModel[id]
		if mv == nil {
			mv = &move{name: name, id: id}
			byModel[id] = mv
			moves = append(moves, mv)
		}
		if m.Entered {
			mv.to = stage
		} else {
			mv.from = stage
		}
	}
	if len(moves) == 0 {
		return nil
	}
	preds := eng.Predictions(prof, now)
	var out []kenner.Change
	for _, mv := range moves {
		base := eng.BaseStage(mv.id)
		if mv.from == "" {
			mv.from = base
		}
		if mv.to == "" {
			mv.to = base
		}
		if mv.from == mv.to {
			continue
		}
		var score any
		if p, ok := preds[mv.name].(map[string]any); ok {
			score = p["score"]
		}
		data, _ := json.Marshal(map[string]any{"model": mv.name, "model_id": mv.id, "from": mv.from, "to": mv.to, "score": score})
		out = append(out, kenner.Change{WorkspaceID: ws, Type: kenner.ChangeLeadStageChanged, ProfileID: prof.ID, At: now, Data: data})
	}
	return out
}

// memberships applies evaluation results to prof.Segments and returns the entries and exits.
func (p *Processor) memberships(prof *kenner.Profile, res map[string]segment.Result, now time.Time) []kenner.MembershipEvent {
	var out []kenner.MembershipEvent
	for _, seg := range sortedKeys(res) {
		r := res[seg]
		if r.Err != nil {
			p.metrics.segmentErrors.Inc()
		}
		_, was := prof.Segments[seg]
		switch {
		case r.Member && !was:
			if prof.Segments == nil {
				prof.Segments = map[string]time.Time{}
			}
			prof.Segments[seg] = now
			out = append(out, kenner.MembershipEvent{SegmentID: seg, ProfileID: prof.ID, Entered: true, At: now})
		case !r.Member && was:
			delete(prof.Segments, seg)
			out = append(out, kenner.MembershipEvent{SegmentID: seg, ProfileID: prof.ID, Entered: false, At: now})
		}
	}
	p.metrics.segmentChanges.Add(float64(len(out)))
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func dedupeStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Recompute rebuilds profiles for the current definitions, in one transaction: their
// aggregates from their stored events (when events is set), then the segments in only (nil:
// every segment; set only when the aggregates stand). Used by the build after definitions
// change and by the sweeper when windows move.
func (p *Processor) Recompute(ctx context.Context, ws string, ids []string, events bool, only map[string]bool) error {
	defer p.committed()
	return p.store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
		profiles, err := b.LoadProfiles(ctx, ws, ids)
		if err != nil {
			return err
		}
		eng, err := p.engine(ctx, b, ws)
		if err != nil {
			return err
		}
		var stored map[string][]kenner.Event
		if events {
			if stored, err = b.ProfileEvents(ctx, ws, ids); err != nil {
				return err
			}
		}
		var list []*kenner.Profile
		changes := map[string]*segment.Change{}
		for _, id := range ids {
			prof := profiles[id]
			if prof == nil {
				continue // merged away or split since it was listed
			}
			list = append(list, prof)
			changes[id] = &segment.Change{All: only == nil || events, Segments: only}
		}
		if events {
			if err := foldAll(eng, list, stored); err != nil {
				return err
			}
		}
		// Identities only matter to conditions that read them; load them only then.
		ids := map[string][]kenner.Identifier{}
		if eng.ReadsIdentities() {
			for _, prof := range list {
				if ids[prof.ID], err = identifiers(ctx, p.store, ws, prof.ID); err != nil {
					return err
				}
			}
		}
		// A recomputation is not a profile update for subscribers: only memberships change.
		if err := p.evaluate(ctx, b, ws, eng, list, changes, ids, nil, false); err != nil {
			return err
		}
		return b.SaveProfiles(ctx, list)
	})
}

// foldAll rebuilds the aggregates of profiles from their stored events, on every core:
// decoding event bodies is a third of a build's time, and the profiles are independent.
func foldAll(eng *segment.Engine, profiles []*kenner.Profile, stored map[string][]kenner.Event) error {
	workers := min(runtime.GOMAXPROCS(0), len(profiles))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(profiles); i += workers {
				prof := profiles[i]
				prof.Aggregates = nil
				evs := stored[prof.ID]
				for j := range evs {
					if _, err := eng.Fold(prof, &evs[j]); err != nil {
						errs[w] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// identifiers reads the identifiers of profile id: the profile documents do not hold them,
// and conditions that read identities need them.
func identifiers(ctx context.Context, store kenner.Store, ws, id string) ([]kenner.Identifier, error) {
	full, err := store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: id})
	if err != nil {
		return nil, err
	}
	var out []kenner.Identifier
	for _, i := range full.Identities {
		out = append(out, i.Identifier)
	}
	return out, nil
}

// ForgetWorkspace drops a deleted workspace's compiled definitions.
func (p *Processor) ForgetWorkspace(ws string) {
	p.engines.mu.Lock()
	delete(p.engines.byWS, ws)
	p.engines.mu.Unlock()
}
