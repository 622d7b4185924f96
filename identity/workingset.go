package identity

import (
	"maps"
	"slices"

	"github.com/kenner-cdp/kenner"
)

// WorkingSet is the part of the identity graph one batch of events touches, held in memory
// while the batch is resolved. The processor loads it once per batch (every profile owning an
// identifier the batch mentions, with all of that profile's identifiers), resolves the events
// in log order against it, and writes the recorded Changes in bulk: one read and one write per
// batch instead of several round trips per event.
type WorkingSet struct {
	rules    Rules
	owners   map[Identifier]string
	profiles map[string]*Profile
	newID    func(rank int64) string
	created  []Profile
	merges   []MergeRecord
	drops    []DropRecord
	attached map[Identifier]bool
	seps     []kenner.Separation
}

// Changes is what resolving a batch did to the graph, in the order a store applies it:
// create the profiles, apply the merges (everything of From moves to Into, From is deleted),
// then set the owner of each newly attached identifier.
type Changes struct {
	Created []Profile // ID and Rank; their identifiers are in Owners
	Merges  []MergeRecord
	Owners  map[Identifier]string
	Drops   []DropRecord
}

// MergeRecord is one profile merged into another by an event.
type MergeRecord struct {
	Into      string
	From      string
	Via       Identifier
	MessageID string
	Rank      int64
}

// DropRecord is an identifier of an event that was not used, for the audit trail.
type DropRecord struct {
	Profile   string // the profile the event went to ("" if none)
	MessageID string
	Drop
}

// NewWorkingSet starts a working set from view. newID makes the ID of a profile created by the
// event at rank (its log position), so that a replay creates the same IDs.
func NewWorkingSet(rules Rules, view View, newID func(rank int64) string) *WorkingSet {
	w := &WorkingSet{rules: rules, owners: maps.Clone(view.Owners), profiles: map[string]*Profile{}, newID: newID,
		attached: map[Identifier]bool{}, seps: view.Separations}
	if w.owners == nil {
		w.owners = map[Identifier]string{}
	}
	for id, p := range view.Profiles {
		p.Identifiers = slices.Clone(p.Identifiers)
		w.profiles[id] = &p
	}
	return w
}

// Resolve decides which profile an event belongs to, applies the decision to the working set
// and returns the profile ("" when the event has no usable identifier) and the decision. ids
// and drops come from Prepare.
func (w *WorkingSet) Resolve(messageID string, rank int64, ids []Identifier, drops []Drop) (string, Decision) {
	view := View{Owners: w.owners, Profiles: map[string]Profile{}, Separations: w.seps}
	for _, p := range ownersOf(ids, view) {
		view.Profiles[p] = *w.profiles[p]
	}
	d := Resolve(w.rules, ids, view)
	d.Dropped = append(slices.Clone(drops), d.Dropped...)
	target := d.Profile
	switch d.Action {
	case Create:
		target = w.newID(rank)
		w.profiles[target] = &Profile{ID: target, Rank: rank}
		w.created = append(w.created, Profile{ID: target, Rank: rank})
	case Merge:
		into := w.profiles[target]
		for _, m := range d.Merged {
			for _, id := range w.profiles[m.From].Identifiers {
				w.owners[id] = target
				into.Identifiers = append(into.Identifiers, id)
			}
			delete(w.profiles, m.From)
			w.merges = append(w.merges, MergeRecord{Into: target, From: m.From, Via: m.Via, MessageID: messageID, Rank: rank})
		}
	}
	for _, id := range d.Added {
		w.owners[id] = target
		w.profiles[target].Identifiers = append(w.profiles[target].Identifiers, id)
		w.attached[id] = true
	}
	for _, dr := range d.Dropped {
		w.drops = append(w.drops, DropRecord{Profile: target, MessageID: messageID, Drop: dr})
	}
	return target, d
}

// Changes returns everything the batch changed so far.
func (w *WorkingSet) Changes() Changes {
	c := Changes{
		Merges: slices.Clone(w.merges),
		Drops:  slices.Clone(w.drops),
		Owners: make(map[Identifier]string, len(w.attached)),
	}
	for _, p := range w.created {
		if _, alive := w.profiles[p.ID]; alive || w.mergedAway(p.ID) {
			c.Created = append(c.Created, p)
		}
	}
	for id := range w.attached {
		c.Owners[id] = w.owners[id]
	}
	return c
}

// mergedAway reports whether a profile was merged into another in this batch. Such a profile
// is still created first, so that the store's merge can move its events like any other's.
func (w *WorkingSet) mergedAway(id string) bool {
	return slices.ContainsFunc(w.merges, func(m MergeRecord) bool { return m.From == id })
}

// Owner returns the profile that owns id now, or "".
func (w *WorkingSet) Owner(id Identifier) string { return w.owners[id] }

// Profiles returns the profiles of the working set by ID, as they stand now.
func (w *WorkingSet) Profiles() map[string]Profile {
	out := make(map[string]Profile, len(w.profiles))
	for id, p := range w.profiles {
		out[id] = *p
	}
	return out
}
