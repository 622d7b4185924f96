package identity

import (
	"fmt"
	"slices"
	"sort"
)

// Drop is an identifier of an event that was not used, and why.
type Drop struct {
	Identifier Identifier `json:"identifier"`
	Reason     string     `json:"reason"`
}

// Prepare normalizes an event's raw identifiers, removes blocked and invalid values and
// duplicates, and orders the rest by priority (most trusted first).
func Prepare(rules Rules, norm Normalizer, raw []Identifier) ([]Identifier, []Drop) {
	var ids []Identifier
	var drops []Drop
	for _, r := range raw {
		v, err := norm.Normalize(r.Kind, r.Value)
		if err != nil {
			drops = append(drops, Drop{Identifier: r, Reason: "invalid " + r.Kind + ": " + err.Error()})
			continue
		}
		id := Identifier{Kind: r.Kind, Value: v}
		if rules.blocked(id.Kind, id.Value) {
			drops = append(drops, Drop{Identifier: id, Reason: "blocked value"})
			continue
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return rules.rank(ids[i].Kind) < rules.rank(ids[j].Kind) })
	return ids, drops
}

// Profile is what Resolve needs to know of a profile an event touches.
type Profile struct {
	ID          string
	Identifiers []Identifier
	// Rank decides which profile survives a merge: the lowest. The store uses the log position
	// of the event that created the profile, so every replay picks the same survivor.
	Rank int64
}

// View is the part of the identity graph an event's identifiers touch: who owns each of them,
// and those owners' identifiers.
type View struct {
	Owners   map[Identifier]string
	Profiles map[string]Profile
}

// Action is what an event does to the graph.
type Action string

// The actions.
const (
	Create Action = "create" // a new profile with the event's identifiers
	Attach Action = "attach" // the event belongs to one existing profile (Added may be empty)
	Merge  Action = "merge"  // the event joins several profiles into Profile
	Ignore Action = "ignore" // the event has no usable identifier
)

// MergeStep is one profile merged into the survivor, and the identifier that linked them.
type MergeStep struct {
	From string     `json:"from"`
	Via  Identifier `json:"via"`
}

// Decision is the outcome of resolving one event.
type Decision struct {
	Action  Action
	Profile string // the profile the event belongs to; empty for Create and Ignore
	Added   []Identifier
	Merged  []MergeStep
	Dropped []Drop
}

// Resolve decides which profile an event with identifiers ids (from Prepare) belongs to. When
// joining the profiles its identifiers match would break a limit (two user_ids where one is
// allowed: merge protection), the event's lowest-priority identifier that causes it is dropped,
// with the reason recorded, and the event resolved again without it.
func Resolve(rules Rules, ids []Identifier, view View) Decision {
	var d Decision
	ids = slices.Clone(ids)
	for {
		kind, n := violation(rules, ids, ownersOf(ids, view), view)
		if kind == "" || len(ids) == 1 {
			break
		}
		i := culprit(rules, ids, view, kind, n)
		d.Dropped = append(d.Dropped, Drop{Identifier: ids[i],
			Reason: fmt.Sprintf("using it would put %d %s identifiers on one profile (limit %d)", n, kind, rules.limit(kind))})
		ids = slices.Delete(ids, i, i+1)
	}
	if len(ids) == 0 {
		d.Action = Ignore
		return d
	}
	owners := ownersOf(ids, view)
	for _, id := range ids {
		if _, ok := view.Owners[id]; !ok {
			d.Added = append(d.Added, id)
		}
	}
	switch len(owners) {
	case 0:
		d.Action = Create
	case 1:
		d.Action, d.Profile = Attach, owners[0]
	default:
		d.Action = Merge
		sort.SliceStable(owners, func(i, j int) bool {
			pi, pj := view.Profiles[owners[i]], view.Profiles[owners[j]]
			if pi.Rank != pj.Rank {
				return pi.Rank < pj.Rank
			}
			return pi.ID < pj.ID
		})
		d.Profile = owners[0]
		for _, p := range owners[1:] {
			for _, id := range ids {
				if view.Owners[id] == p {
					d.Merged = append(d.Merged, MergeStep{From: p, Via: id})
					break
				}
			}
		}
	}
	return d
}

// culprit picks the identifier to drop for a violation of kind's limit: the lowest-priority one
// whose removal lowers the count (a third email, or the device id linking two users), so that
// innocent identifiers are kept; failing that, the lowest-priority one.
func culprit(rules Rules, ids []Identifier, view View, kind string, n int) int {
	for i := len(ids) - 1; i >= 0; i-- {
		rest := slices.Delete(slices.Clone(ids), i, i+1)
		k, m := violation(rules, rest, ownersOf(rest, view), view)
		if k != kind || m < n {
			return i
		}
	}
	return len(ids) - 1
}

// ownersOf lists the distinct profiles owning any of ids, in the order of ids.
func ownersOf(ids []Identifier, view View) []string {
	var out []string
	for _, id := range ids {
		if p, ok := view.Owners[id]; ok && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// violation returns a kind whose limit the union of the owners' identifiers and ids would
// exceed, with that count. A profile already over a limit (the rules changed after it formed)
// does not count as a violation by itself: only growth beyond the largest existing count does.
func violation(rules Rules, ids []Identifier, owners []string, view View) (string, int) {
	union := map[Identifier]bool{}
	largest := map[string]int{}
	for _, p := range owners {
		perKind := map[string]int{}
		for _, id := range view.Profiles[p].Identifiers {
			union[id] = true
			perKind[id.Kind]++
		}
		for k, n := range perKind {
			largest[k] = max(largest[k], n)
		}
	}
	for _, id := range ids {
		union[id] = true
	}
	counts := map[string]int{}
	for id := range union {
		counts[id.Kind]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		return rules.rank(kinds[i]) < rules.rank(kinds[j]) || rules.rank(kinds[i]) == rules.rank(kinds[j]) && kinds[i] < kinds[j]
	})
	for _, k := range kinds {
		if l := rules.limit(k); l > 0 && counts[k] > l && counts[k] > largest[k] {
			return k, counts[k]
		}
	}
	return "", 0
}
