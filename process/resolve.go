package process

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/profile"
	"github.com/kenner-cdp/kenner/segment"
)

// Config is how the processor turns events into profiles.
type Config struct {
	Rules      identity.Rules
	Normalizer identity.Normalizer
	// ExternalIDs are the identifier kinds read from traits and context.externalIds besides
	// user_id, anonymous_id, email and phone.
	ExternalIDs []string
	Policy      profile.Policy
	Segments    segment.Options
	// Now is the clock windowed values are measured against (nil: time.Now).
	Now func() time.Time
	// Committed is called after each transaction that may have added to the changes stream
	// (activation's Wake), so consumers in this process react without polling.
	Committed func()
	// Applied is handed the events of each committed batch, decoded (duplicates of stored
	// messages included), with the profile that owns each identifier the batch touched, by
	// workspace, as committed: the analytics projection's feed.
	Applied func(partition int, events []kenner.Event, owners map[string]map[kenner.Identifier]string)
	// Consent is the consent policy (nil: every event is used as it comes); PII names the
	// fields its "strip" removes.
	Consent *privacy.ConsentPolicy
	PII     *privacy.PII
	// Suppressed reports an erased identifier (normalized): an event carrying one is dropped
	// (nil: none are).
	Suppressed func(workspaceID, kind, value string) bool
	// SharedLimit is how many people (profiles with their own user ids) may present one
	// email or phone before it stops identifying anyone (0: no limit; DefaultConfig:
	// DefaultSharedLimit).
	SharedLimit int
}

// DefaultConfig is Segment's recommended identity settings and latest-wins traits.
func DefaultConfig() Config {
	return Config{Rules: identity.DefaultRules(), SharedLimit: DefaultSharedLimit, Policy: profile.Policy{TouchRules: analytics.DefaultRules()}}
}

// ProfileID names the profile created by the event at rank. Deriving it from the log position
// makes a replay create the same ids.
func ProfileID(rank int64) string { return "prf_" + strconv.FormatInt(rank, 36) }

// pending is one event on its way through resolution.
type pending struct {
	event   kenner.Event
	stated  map[string]bool // what the event says about consent
	ids     []identity.Identifier
	drops   []identity.Drop
	prev    []identity.Identifier // an alias call's previousId, as user_id and as anonymous_id
	target  string
	decided identity.Decision
}

// resolve runs identity resolution and the profile fold for events of one workspace inside a
// store transaction. fresh events are stored (InsertEvents); for a split's recomputation
// (reassign) the events are already stored and only get their new profile.
//
// prior gives profiles created by this call the segment memberships they had before (a split
// resolves a profile's events again under its id), so that evaluation announces only the
// memberships that change.
func (p *Processor) resolve(ctx context.Context, b kenner.Batch, ws string, events []kenner.Event, reassign bool, prior map[string]map[string]time.Time, owners map[kenner.Identifier]string) error {
	known := map[string]bool{}
	if !reassign {
		msgIDs := make([]string, len(events))
		for i, e := range events {
			msgIDs[i] = e.MessageID
		}
		var err error
		if known, err = b.KnownMessages(ctx, ws, msgIDs); err != nil {
			return err
		}
	}
	var work []*pending
	var lookup []identity.Identifier
	x := identity.Extractor{External: p.cfg.ExternalIDs}
	kept := events[:0:0]
	for _, e := range events {
		if known[e.MessageID] {
			kept = append(kept, e)
			continue
		}
		ex, err := x.Extract(e.Body)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.MessageID, err)
		}
		w := &pending{event: e}
		w.ids, w.drops = identity.Prepare(p.cfg.Rules, p.cfg.Normalizer, ex.IDs)
		if ex.PreviousID != "" {
			w.prev, _ = identity.Prepare(p.cfg.Rules, p.cfg.Normalizer, []identity.Identifier{
				{Kind: identity.UserID, Value: ex.PreviousID}, {Kind: identity.AnonymousID, Value: ex.PreviousID}})
		}
		var n, m int
		w.ids, n = p.unsuppressed(ws, w.ids)
		w.prev, m = p.unsuppressed(ws, w.prev)
		p.metrics.dropped.WithLabelValues("suppressed").Add(float64(n + m))
		if len(w.ids) == 0 && n > 0 {
			continue // only erased identifiers: the erased person's own event
		}
		var shared int
		w.ids, shared = p.unguarded(ws, w.ids)
		p.metrics.dropped.WithLabelValues("shared").Add(float64(shared))
		kept = append(kept, e)
		for _, d := range w.drops {
			p.metrics.dropped.WithLabelValues(dropReason(d)).Inc()
		}
		lookup = append(lookup, w.ids...)
		lookup = append(lookup, w.prev...)
		work = append(work, w)
	}
	events = kept
	if len(work) == 0 {
		if reassign || len(events) == 0 {
			return nil
		}
		_, err := b.InsertEvents(ctx, events)
		return err
	}
	graph, err := b.LoadGraph(ctx, ws, dedupe(lookup))
	if err != nil {
		return err
	}
	for _, w := range work {
		w.stated = profile.StatedConsent(w.event.Body)
	}
	if p.cfg.Consent.Active() {
		var gone map[string]bool
		if work, gone, err = p.applyConsentPolicy(ctx, b, ws, graph, work, x); err != nil {
			return err
		}
		events = slices.DeleteFunc(events, func(e kenner.Event) bool { return gone[e.MessageID] })
		if len(work) == 0 {
			if reassign || len(events) == 0 {
				return nil
			}
			_, err := b.InsertEvents(ctx, events)
			return err
		}
	}
	set := identity.NewWorkingSet(p.cfg.Rules, graph, ProfileID)
	added := map[identity.Identifier]kenner.Identity{}
	for _, w := range work {
		ids := w.ids
		if len(w.prev) > 0 {
			ids = append(slices.Clone(ids), previous(set, w.prev))
		}
		rank := kenner.EventRank(w.event.Seq, w.event.Index)
		w.target, w.decided = set.Resolve(w.event.MessageID, rank, ids, w.drops)
		for _, id := range w.decided.Added {
			added[id] = kenner.Identity{Identifier: id, SourceID: w.event.SourceID, MessageID: w.event.MessageID, Rank: rank, At: w.event.Timestamp}
		}
	}
	changes := set.Changes()
	into := map[string]string{}
	for _, m := range changes.Merges {
		into[m.From] = m.Into
	}
	final := func(id string) string {
		for {
			next, ok := into[id]
			if !ok {
				return id
			}
			id = next
		}
	}

	// Load the profiles before the graph changes tombstone the merged ones.
	touched := map[string]bool{}
	for _, w := range work {
		if w.target != "" {
			touched[w.target] = true
		}
	}
	for _, m := range changes.Merges {
		touched[m.From], touched[m.Into] = true, true
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	profiles, err := b.LoadProfiles(ctx, ws, ids)
	if err != nil {
		return err
	}
	for _, c := range changes.Created {
		if profiles[c.ID] == nil {
			profiles[c.ID] = &kenner.Profile{WorkspaceID: ws, ID: c.ID, Rank: c.Rank, Segments: maps.Clone(prior[c.ID])}
		}
	}

	gc := kenner.GraphChanges{Identities: map[string][]kenner.Identity{}}
	for _, c := range changes.Created {
		gc.Created = append(gc.Created, kenner.GraphNode{ID: c.ID, Rank: c.Rank})
	}
	var gone []*kenner.Profile
	evidence := matchEvidence(work, changes.Merges)
	for _, m := range changes.Merges {
		if from := profiles[m.From]; from != nil && len(from.Segments) > 0 {
			gone = append(gone, &kenner.Profile{ID: m.From, Segments: from.Segments})
		}
		gc.Merges = append(gc.Merges, kenner.Merge{Into: m.Into, From: m.From})
		d := kenner.Decision{ProfileID: final(m.Into), Action: kenner.DecisionMerge, From: m.From,
			Identifier: m.Via, MessageID: m.MessageID, Rank: m.Rank, Reason: "both profiles hold " + m.Via.Kind + " " + m.Via.Value}
		if ev, ok := evidence[m.MessageID]; ok {
			d.Action, d.Reason = kenner.DecisionProbabilistic, ev
		}
		gc.Decisions = append(gc.Decisions, d)
		p.cfg.Policy.Merge(profiles[m.Into], profiles[m.From])
		p.metrics.merges.Inc()
	}
	for id, owner := range changes.Owners {
		idt := added[id]
		gc.Identities[final(owner)] = append(gc.Identities[final(owner)], idt)
	}
	for _, d := range changes.Drops {
		if !d.Rule {
			continue
		}
		gc.Decisions = append(gc.Decisions, kenner.Decision{ProfileID: final(d.Profile), Action: kenner.DecisionProtect,
			Identifier: d.Identifier, MessageID: d.MessageID, Reason: d.Reason})
	}
	rankOf := map[string]int64{}
	for _, w := range work {
		rankOf[w.event.MessageID] = kenner.EventRank(w.event.Seq, w.event.Index)
	}
	for i := range gc.Decisions {
		if gc.Decisions[i].Rank == 0 {
			gc.Decisions[i].Rank = rankOf[gc.Decisions[i].MessageID]
		}
		gc.Decisions[i].At = p.now().UTC()
	}
	if err := b.WriteGraph(ctx, ws, gc); err != nil {
		return err
	}
	var protected []kenner.Identifier
	for _, d := range gc.Decisions {
		if d.Action == kenner.DecisionProtect {
			protected = append(protected, d.Identifier)
		}
	}
	if err := p.checkShared(ctx, b, ws, protected); err != nil {
		return err
	}

	// Fold the events in, merged profiles first (the fold is commutative, so order only
	// matters for which profile object holds the result). The definitions are read now that the
	// profiles are locked (engine).
	eng, err := p.engine(ctx, b, ws)
	if err != nil {
		return err
	}
	changed := map[string]*segment.Change{}
	change := func(id string) *segment.Change {
		c := changed[id]
		if c == nil {
			c = &segment.Change{}
			changed[id] = c
		}
		return c
	}
	for _, m := range changes.Merges {
		change(final(m.Into)).All = true
	}
	byMessage := map[string]*pending{}
	for _, w := range work {
		byMessage[w.event.MessageID] = w
		if w.target == "" {
			continue
		}
		id := final(w.target)
		traits, err := p.cfg.Policy.Apply(profiles[id], &w.event)
		if err != nil {
			return fmt.Errorf("event %s: %w", w.event.MessageID, err)
		}
		aggs, err := eng.Fold(profiles[id], &w.event)
		if err != nil {
			return err
		}
		c := change(id)
		c.Consent = profile.ApplyConsent(profiles[id], &w.event, w.stated) || c.Consent
		c.Traits = append(c.Traits, traits...)
		c.Aggregates = append(c.Aggregates, aggs...)
		c.Identities = c.Identities || len(w.decided.Added) > 0
		c.Groups = c.Groups || w.event.Type == kenner.TypeGroup
	}
	if reassign {
		// A split resolves the profile's events again: their identifiers may now be another
		// profile's, which the change says so that readers of the graph look again.
		for _, c := range changed {
			c.Split = true
		}
	}
	var save []*kenner.Profile
	for _, id := range ids {
		if final(id) == id && profiles[id] != nil {
			save = append(save, profiles[id])
		}
	}
	for _, c := range changes.Created {
		if final(c.ID) == c.ID && !touched[c.ID] {
			save = append(save, profiles[c.ID])
		}
	}
	members := map[string][]kenner.Identifier{}
	for id, node := range set.Profiles() {
		members[id] = node.Identifiers
		if owners != nil {
			for _, ident := range node.Identifiers {
				owners[ident] = id
			}
		}
	}
	if err := p.evaluate(ctx, b, ws, eng, save, changed, members, gone, true); err != nil {
		return err
	}
	if err := b.SaveProfiles(ctx, save); err != nil {
		return err
	}

	out := make([]kenner.Event, 0, len(events))
	for _, e := range events {
		if w := byMessage[e.MessageID]; w != nil && w.target != "" {
			e.ProfileID = final(w.target)
			e.Body = w.event.Body // stripped under the consent policy
		}
		out = append(out, e)
	}
	if reassign {
		return b.AssignEvents(ctx, out)
	}
	n, err := b.InsertEvents(ctx, out)
	if err != nil {
		return err
	}
	p.applied.Add(int64(n))
	p.metrics.processed.Add(float64(n))
	p.metrics.duplicates.Add(float64(len(out) - n))
	return nil
}

// previous decides what an alias call's previousId is: a user_id if some profile has it as
// one, else an anonymous_id (the usual case: the id a device used before login).
func previous(set *identity.WorkingSet, cands []identity.Identifier) identity.Identifier {
	for _, c := range cands {
		if c.Kind == identity.UserID && set.Owner(c) != "" {
			return c
		}
	}
	for _, c := range cands {
		if c.Kind == identity.AnonymousID {
			return c
		}
	}
	return cands[0]
}

func dedupe(ids []identity.Identifier) []identity.Identifier {
	seen := make(map[identity.Identifier]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func dropReason(d identity.Drop) string {
	switch {
	case d.Rule:
		return "rule"
	case d.Reason == "blocked value":
		return "blocked"
	default:
		return "invalid"
	}
}

// suppressed reports whether any of ids was erased.
// unsuppressed returns ids without the erased ones, and how many it left out: an erased
// identifier resolves to no one, while the event's other identifiers (a new person who
// shares a landline with an erased one) go on.
func (p *Processor) unsuppressed(ws string, ids []identity.Identifier) ([]identity.Identifier, int) {
	if p.cfg.Suppressed == nil {
		return ids, 0
	}
	return without(ids, func(id identity.Identifier) bool { return p.cfg.Suppressed(ws, id.Kind, id.Value) })
}

// without returns ids without those drop says to leave out, and how many it left out. The
// common case, nothing left out, returns ids itself: this runs for every event.
func without(ids []identity.Identifier, drop func(identity.Identifier) bool) ([]identity.Identifier, int) {
	for i, id := range ids {
		if !drop(id) {
			continue
		}
		out := make([]identity.Identifier, i, len(ids)-1)
		copy(out, ids[:i])
		for _, rest := range ids[i+1:] {
			if !drop(rest) {
				out = append(out, rest)
			}
		}
		return out, len(ids) - len(out)
	}
	return ids, 0
}
