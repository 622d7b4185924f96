package segment

import (
	"maps"

	"github.com/kenner-cdp/kenner"
)

// Reads returns what evaluating the segments in only (nil: all) reads of a profile: the
// document's parts for kenner.ProfileFields, including those of the computed traits the
// conditions name, and whether it reads identities (which the document does not hold).
// Segments outside only keep the memberships the profile holds, which are always read.
func (e *Engine) Reads(only map[string]bool) (fields *kenner.ProfileFields, identities bool) {
	f := &kenner.ProfileFields{Traits: map[string]bool{}, Aggregates: map[string]bool{}}
	byName := make(map[string]*trait, len(e.traits))
	for _, t := range e.traits {
		byName[t.def.Name] = t
	}
	seen := map[string]bool{}
	var add func(d deps)
	computed := func(name string) {
		t := byName[name]
		if t == nil || seen[name] {
			return
		}
		seen[name] = true
		if t.agg != nil {
			f.Aggregates[t.agg.key] = true
			return
		}
		add(t.deps)
	}
	add = func(d deps) {
		f.AllTraits = f.AllTraits || d.allTraits
		f.Consent = f.Consent || d.consent
		f.Groups = f.Groups || d.groups
		identities = identities || d.identities
		maps.Copy(f.Traits, d.traits)
		maps.Copy(f.Aggregates, d.aggs)
		for name := range d.computed {
			computed(name)
		}
		if d.predictions {
			// The models read traits, computed traits and their purchase histories.
			f.AllTraits = true
			for _, m := range e.models {
				if m.agg != nil {
					f.Aggregates[m.agg.key] = true
				}
			}
		}
		if d.allComputed || d.predictions {
			for name := range byName {
				computed(name)
			}
		}
	}
	for _, s := range e.segments {
		if only == nil || only[s.seg.ID] {
			add(s.deps)
		}
	}
	return f, identities
}

// Since returns the segments whose memberships can differ from those old decided (nil old:
// all of them): new and edited segments, those reading a computed trait whose definition
// changed, and those naming any of these. A build after a definitions change evaluates only
// these; every other membership stands.
func (e *Engine) Since(old *Engine) map[string]bool {
	out := map[string]bool{}
	if old == nil {
		for _, s := range e.segments {
			out[s.seg.ID] = true
		}
		return out
	}
	before := make(map[string]*trait, len(old.traits))
	for _, t := range old.traits {
		before[t.def.Name] = t
	}
	// A computed trait changed: its aggregate is another, its expression is, or it reads one
	// that changed (e.traits is in dependency order). A removed one changes whoever read all.
	changed := map[string]bool{}
	for _, t := range e.traits {
		o, had := before[t.def.Name]
		delete(before, t.def.Name)
		switch {
		case !had:
			changed[t.def.Name] = true
		case t.agg != nil:
			changed[t.def.Name] = o.agg == nil || o.agg.key != t.agg.key
		default:
			changed[t.def.Name] = o.agg != nil || o.def.Expression != t.def.Expression ||
				anyOf(t.deps.computed, changed) || (t.deps.allComputed && anyTrue(changed))
		}
	}
	removed := len(before) > 0
	consent := !maps.Equal(e.consent, old.consent)
	models := modelsDiffer(e.models, old.models)
	for _, s := range e.segments {
		o, had := old.byID[s.seg.ID]
		d := s.deps
		// The same condition can name another segment: one deleted and another created
		// under its name.
		if !had || o.seg.Condition != s.seg.Condition || !maps.Equal(o.deps.segments, d.segments) || anyOf(d.computed, changed) ||
			(d.allComputed && (removed || anyTrue(changed))) || (d.consent && consent) || (d.predictions && models) || anyOf(d.segments, out) {
			out[s.seg.ID] = true
		}
	}
	return out
}

// Deleted returns the segments old had and e does not.
func (e *Engine) Deleted(old *Engine) []string {
	var out []string
	if old != nil {
		for id := range old.byID {
			if _, ok := e.byID[id]; !ok {
				out = append(out, id)
			}
		}
	}
	return out
}

func anyTrue(m map[string]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

// WithNamed returns ids and every segment their conditions name, directly or through others:
// what a condition over them reads in all (a lookalike's label, segment("Best customers"),
// reads what the seed segment's condition reads).
func (e *Engine) WithNamed(ids map[string]bool) map[string]bool {
	out := map[string]bool{}
	var add func(id string)
	add = func(id string) {
		if out[id] {
			return
		}
		out[id] = true
		if c, ok := e.byID[id]; ok {
			for dep := range c.deps.segments {
				add(dep)
			}
		}
	}
	for id := range ids {
		add(id)
	}
	return out
}
