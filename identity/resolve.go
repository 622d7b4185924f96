package identity

import (
	"fmt"

	"github.com/kenner-cdp/kenner"
	"slices"
	"sort"
)

// Drop is an identifier of an event that was not used, and why.
type Drop struct {
	Identifier Identifier `json:"identifier"`
	Reason     string     `json:"reason"`
	// Rule is set when the identifier was valid but using it would have broken a rule (a
	// limit, merge protection, a split): a decision worth recording on the profile.
	Rule bool `json:"rule,omitempty"`
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

// Profile is what Resolve needs to know of a profile an event touches. Its Rank decides which
// profile survives a merge: the lowest.
type Profile = kenner.GraphNode

// View is the part of the identity graph an event's identifiers touch: who owns each of them,
// those owners' identifiers, and the separations (from splits) that involve them.
type View = kenner.Graph

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
	for len(ids) > 1 {
		v := violation(rules, ids, ownersOf(ids, view), view)
		if v.reason == "" {
			break
		}
		i := culprit(rules, ids, view, v)
		d.Dropped = append(d.Dropped, Drop{Identifier: ids[i], Reason: v.reason, Rule: true})
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

// culprit picks the identifier to drop for violation v: the lowest-priority one whose removal
// resolves or eases it (a third email, or the device id linking two users), so that innocent
// identifiers are kept; failing that, the lowest-priority one.
func culprit(rules Rules, ids []Identifier, view View, v problem) int {
	for i := len(ids) - 1; i >= 0; i-- {
		rest := slices.Delete(slices.Clone(ids), i, i+1)
		if w := violation(rules, rest, ownersOf(rest, view), view); w.eases(v) {
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

// problem is a rule that joining an event's profiles would break.
type problem struct {
	reason     string
	kind       string // a limit on this kind...
	n          int    // ...would be exceeded with n identifiers
	separation int    // or separation number separation-1 would be crossed
}

// eases reports whether p is a smaller problem than before: gone, another one, or fewer
// identifiers over the same limit.
func (p problem) eases(before problem) bool {
	return p.reason == "" || p.kind != before.kind || p.separation != before.separation || p.n < before.n
}

// violation returns a rule that the union of the owners' identifiers and ids would break:
// crossing a separation, or exceeding a kind's limit. A profile already over a limit (the rules
// changed after it formed) does not count as a violation by itself: only growth beyond the
// largest existing count does.
func violation(rules Rules, ids []Identifier, owners []string, view View) problem {
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
	for i, s := range view.Separations {
		if slices.ContainsFunc(s.A, func(id Identifier) bool { return union[id] }) &&
			slices.ContainsFunc(s.B, func(id Identifier) bool { return union[id] }) {
			return problem{separation: i + 1, reason: "using it would join identifiers that a split separated"}
		}
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
			return problem{kind: k, n: counts[k],
				reason: fmt.Sprintf("using it would put %d %s identifiers on one profile (limit %d)", counts[k], k, l)}
		}
	}
	return problem{}
}
