package process

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Split moves identifiers out of the profile that ref names. It records a separation (the
// identifiers kept and those moved out may never share a profile again, on new events or on a
// replay), forgets the profile and every profile merged into it, and resolves their events
// again from the store, in log order, under the separation. It returns the ids of the profiles
// that then hold the kept and the moved identifiers.
func (p *Processor) Split(ctx context.Context, ws string, ref kenner.Identifier, out []kenner.Identifier) (kept, moved string, err error) {
	prof, err := p.store.Profile(ctx, ws, ref)
	if err != nil {
		return "", "", err
	}
	if len(out) == 0 {
		return "", "", kenner.Errorf(kenner.EInvalid, "identifiers: list the identifiers to move out of the profile")
	}
	var ids []kenner.Identifier
	for _, idt := range prof.Identities {
		ids = append(ids, idt.Identifier)
	}
	err = p.store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
		graph, err := b.LoadGraph(ctx, ws, ids)
		if err != nil {
			return err
		}
		// Read again under the lock: an event may have changed the profile since.
		node, ok := graph.Profiles[graph.Owners[ids[0]]]
		if !ok {
			return kenner.Errorf(kenner.EConflict, "profile %s changed during the split; try again", prof.ID)
		}
		var keep, move []kenner.Identifier
		for _, id := range node.Identifiers {
			if slices.Contains(out, id) {
				move = append(move, id)
			} else {
				keep = append(keep, id)
			}
		}
		for _, id := range out {
			if !slices.Contains(move, id) {
				return kenner.Errorf(kenner.EInvalid, "identifiers: %s is not an identifier of profile %s", id, node.ID)
			}
		}
		if len(keep) == 0 {
			return kenner.Errorf(kenner.EInvalid, "identifiers: a split must leave the profile at least one identifier")
		}
		if err := b.AddSeparation(ctx, ws, kenner.Separation{A: keep, B: move}); err != nil {
			return err
		}
		// The memberships it has now, read under the lock: the profile is resolved again
		// under its id, and only memberships that change are announced.
		before, err := b.LoadProfiles(ctx, ws, []string{node.ID})
		if err != nil {
			return err
		}
		var prior map[string]time.Time
		if pr := before[node.ID]; pr != nil {
			prior = pr.Segments
		}
		events, err := b.ResetProfile(ctx, ws, node.ID)
		if err != nil {
			return err
		}
		if err := p.resolve(ctx, b, ws, events, true, map[string]map[string]time.Time{node.ID: prior}, nil); err != nil {
			return err
		}
		after, err := b.LoadGraph(ctx, ws, []kenner.Identifier{keep[0], move[0]})
		if err != nil {
			return err
		}
		kept, moved = after.Owners[keep[0]], after.Owners[move[0]]
		if kept != node.ID && len(prior) > 0 {
			// The kept identifiers ended on a profile of another id: the old id is gone, and
			// so are its memberships.
			var exits []kenner.MembershipEvent
			for _, seg := range slices.Sorted(maps.Keys(prior)) {
				exits = append(exits, kenner.MembershipEvent{SegmentID: seg, ProfileID: node.ID, At: p.now().UTC()})
			}
			if err := b.WriteMemberships(ctx, ws, exits); err != nil {
				return err
			}
		}
		now := p.now().UTC()
		var ds []kenner.Decision
		for _, id := range move {
			ds = append(ds, kenner.Decision{ProfileID: kept, Action: kenner.DecisionSplit, From: moved, Identifier: id,
				Reason: "split requested through the API", At: now})
			if moved != kept {
				ds = append(ds, kenner.Decision{ProfileID: moved, Action: kenner.DecisionSplit, From: kept, Identifier: id,
					Reason: "split requested through the API", At: now})
			}
		}
		return b.AddDecisions(ctx, ws, ds)
	})
	return kept, moved, err
}
