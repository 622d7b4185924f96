package process

import (
	"context"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

// Preview is how many profiles a condition selects, without saving it.
type Preview struct {
	Count     int64             `json:"count"`
	Evaluated int64             `json:"evaluated"`
	Errors    int64             `json:"errors"` // profiles the condition failed for (a missing trait)
	Sample    []*kenner.Profile `json:"-"`
	Took      time.Duration     `json:"-"`
}

// Preview evaluates seg over the workspace's profiles (at most max of them, 0: all) and keeps
// up to sample members. Event functions the stored definitions do not keep yet are computed
// from each profile's stored events. An invalid condition is kenner.EInvalid.
func (p *Processor) Preview(ctx context.Context, ws string, seg kenner.Segment, max, sample int) (Preview, error) {
	start := time.Now()
	var out Preview
	traits, err := p.store.ComputedTraits(ctx, ws)
	if err != nil {
		return out, err
	}
	segs, err := p.store.Segments(ctx, ws)
	if err != nil {
		return out, err
	}
	if seg.ID == "" {
		seg.ID = "preview"
	}
	eng, err := segment.Compile(traits, segment.WithSegment(segs, seg), p.cfg.Segments)
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
	now := p.now().UTC()
	after := ""
	for max == 0 || out.Evaluated < int64(max) {
		n := 1000
		if max > 0 {
			n = min(n, max-int(out.Evaluated))
		}
		ids, err := p.store.ProfileIDs(ctx, ws, after, n)
		if err != nil {
			return out, err
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		profiles, err := p.store.Profiles(ctx, ws, ids)
		if err != nil {
			return out, err
		}
		for _, id := range ids {
			prof := profiles[id]
			if prof == nil {
				continue
			}
			var idents []kenner.Identifier
			if eng.ReadsIdentities() || len(missing) > 0 {
				full, err := p.store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: id})
				if err != nil {
					continue // merged or split since listed
				}
				for _, i := range full.Identities {
					idents = append(idents, i.Identifier)
				}
			}
			if len(missing) > 0 {
				if err := p.foldStored(ctx, ws, eng, prof, missing); err != nil {
					return out, err
				}
			}
			res := eng.Evaluate(eng.Input(prof, idents, now), prof.Segments, only)[seg.ID]
			out.Evaluated++
			if res.Err != nil {
				out.Errors++
			}
			if res.Member {
				out.Count++
				if len(out.Sample) < sample {
					out.Sample = append(out.Sample, prof)
				}
			}
		}
	}
	out.Took = time.Since(start)
	return out, nil
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
