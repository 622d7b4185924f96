package segment

import (
	"encoding/json"
	"strconv"
	"time"

	"cel.dev/cel-go/interpreter"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/profile"
)

// Input is a profile as conditions see it.
type Input struct {
	Traits     map[string]any
	Computed   map[string]any
	Identities map[string][]string
	Consent    map[string]bool
	Groups     map[string]map[string]any // group id → its traits; filled when a definition reads groups
	aggs       map[string]int64
	// what predictions() computes the scores from, when first read
	eng   *Engine
	prof  *kenner.Profile
	now   time.Time
	preds map[string]any
}

// Input builds what conditions read of p at now. ids are p's identifiers (nil: p.Identities).
func (e *Engine) Input(p *kenner.Profile, ids []kenner.Identifier, now time.Time) Input {
	// Every map a condition may read is there, empty rather than nil, allocated only when
	// it holds something: a pass over every profile builds one Input per profile.
	in := Input{Traits: make(map[string]any, len(p.Traits)), Identities: empty[[]string](len(ids) + len(p.Identities)),
		Consent: empty[bool](len(e.consent) + len(p.Consent)), aggs: make(map[string]int64, e.counters)}
	if len(e.models) > 0 {
		in.eng, in.prof, in.now = e, p, now
	}
	for k, t := range p.Traits {
		if v, ok := traitValue(t.Value); ok {
			in.Traits[k] = v
		}
	}
	for k, v := range e.consent {
		in.Consent[k] = v
	}
	for k, c := range p.Consent {
		in.Consent[k] = c.Granted
	}
	if ids == nil {
		for _, i := range p.Identities {
			ids = append(ids, i.Identifier)
		}
	}
	for _, i := range ids {
		in.Identities[i.Kind] = append(in.Identities[i.Kind], i.Value)
	}
	for k, a := range e.aggs {
		if a.spec.Func == kenner.FuncCount && a.key[0] == 'c' {
			v, _ := profile.Value(p.Aggregates[k], a.spec, now)
			in.aggs[k] = v.(int64)
		}
	}
	if e.groups {
		in.Groups = decodeGroups(p)
	}
	in.Computed = e.computed(p, in, now)
	return in
}

// decodeGroups is what conditions read of p's groups (nil when it has none).
func decodeGroups(p *kenner.Profile) map[string]map[string]any {
	if len(p.Groups) == 0 {
		return nil
	}
	out := make(map[string]map[string]any, len(p.Groups))
	for id, g := range p.Groups {
		traits := map[string]any{}
		if len(g.Traits) > 0 {
			json.Unmarshal(g.Traits, &traits)
		}
		out[id] = traits
	}
	return out
}

// empty returns a map for n entries; no map at all when n is 0 (CEL reads a nil map as an
// empty one, and nothing writes to it).
func empty[V any](n int) map[string]V {
	if n == 0 {
		return nil
	}
	return make(map[string]V, n)
}

// traitValue decodes a trait's JSON value as encoding/json would into an any, without
// encoding/json for strings without escapes, numbers and literals: most trait values.
func traitValue(raw json.RawMessage) (any, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	switch c := raw[0]; {
	case c == '"':
		s, ok := jsonobj.String(raw)
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err == nil {
			return f, true
		}
	case string(raw) == "true":
		return true, true
	case string(raw) == "false":
		return false, true
	case string(raw) == "null":
		return nil, true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	return v, true
}

// Computed returns p's computed traits at now (a trait with no value is absent).
func (e *Engine) Computed(p *kenner.Profile, now time.Time) map[string]any {
	in := e.Input(p, nil, now)
	return in.Computed
}

func (e *Engine) computed(p *kenner.Profile, in Input, now time.Time) map[string]any {
	out := map[string]any{}
	for _, t := range e.traits {
		if t.agg != nil {
			if v, ok := profile.Value(p.Aggregates[t.agg.key], t.agg.spec, now); ok {
				out[t.def.Name] = v
			}
			continue
		}
		in.Computed = out
		v, _, err := t.expr.Eval(&activation{in: &in})
		if err == nil {
			out[t.def.Name] = v.Value()
		}
	}
	return out
}

// Result is the outcome of evaluating one segment for one profile.
type Result struct {
	Member bool
	Err    error // the condition failed (a missing trait, the cost limit): not a member
}

// Evaluate decides p's membership of the segments in only (nil: all), in dependency order, and
// returns it by segment id. Segments outside only keep the membership in current.
func (e *Engine) Evaluate(in Input, current map[string]time.Time, only map[string]bool) map[string]Result {
	out := make(map[string]Result, min(len(e.segments), max(len(only), 1)))
	act := &activation{in: &in}
	for _, c := range e.segments {
		if only != nil && !only[c.seg.ID] {
			continue
		}
		// The segments this one names, as evaluated just now (they come first) or as held.
		act.segments = act.segments[:0]
		for id := range c.deps.segments {
			r, evaluated := out[id]
			_, held := current[id]
			if evaluated && r.Member || !evaluated && held {
				act.segments = append(act.segments, id)
			}
		}
		v, _, err := c.prog.Eval(act)
		r := Result{Err: err}
		if err == nil {
			r.Member, _ = v.Value().(bool)
		}
		out[c.seg.ID] = r
	}
	return out
}

// activation is what conditions and expressions read: Input's fields by their CEL names,
// without building a map of them for every evaluation.
type activation struct {
	in       *Input
	segments []string
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "traits":
		return a.in.Traits, true
	case "computed":
		return a.in.Computed, true
	case "identities":
		return a.in.Identities, true
	case "consent":
		return a.in.Consent, true
	case "groups":
		return a.in.Groups, true
	case "predictions":
		return a.in.predictions(), true
	case varAggs:
		return a.in.aggs, true
	case varSegments:
		return a.segments, true
	case varNone:
		return []map[string]any{}, true // the always-empty list predicates are type-checked over
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Change is what happened to a profile, to find the segments it can affect.
type Change struct {
	Traits     []string // names of traits set
	Aggregates []string // keys of aggregates changed
	Identities bool     // identifiers added
	Consent    bool
	Groups     bool // a group call: membership of an account or its traits
	All        bool // a merge or a recomputation: everything may have changed
	Split      bool // identifiers moved to another profile (a split): readers of the graph look again
	// Segments are evaluated whatever else changed: those whose definitions a build
	// changed, or whose windows a sweep moved.
	Segments map[string]bool
}

// Affected returns the segments c can change the membership of (nil when none), including the
// segments that name those.
func (e *Engine) Affected(c Change) map[string]bool {
	out := map[string]bool{}
	traits := map[string]bool{}
	for _, t := range c.Traits {
		traits[t] = true
	}
	aggs := map[string]bool{}
	for _, a := range c.Aggregates {
		aggs[a] = true
	}
	// Computed traits that changed: aggregates changed, or expressions over changed traits.
	computed := map[string]bool{}
	for _, t := range e.traits {
		switch {
		case c.All:
			computed[t.def.Name] = true
		case t.agg != nil:
			computed[t.def.Name] = aggs[t.agg.key]
		default:
			computed[t.def.Name] = t.deps.allTraits || t.deps.allComputed || anyOf(t.deps.traits, traits) ||
				anyOf(t.deps.computed, computed) || (t.deps.identities && c.Identities) || (t.deps.groups && c.Groups)
		}
	}
	for _, s := range e.segments {
		d := s.deps
		if c.All || c.Segments[s.seg.ID] || (d.allTraits && len(traits) > 0) || anyOf(d.traits, traits) || d.allComputed || anyOf(d.computed, computed) ||
			anyOf(d.aggs, aggs) || (d.identities && c.Identities) || (d.consent && c.Consent) || (d.groups && c.Groups) || anyOf(d.segments, out) ||
			(d.predictions && (len(traits) > 0 || len(aggs) > 0)) {
			out[s.seg.ID] = true
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Windowed returns the segments whose conditions read windowed values, which change as time
// passes (the sweeper evaluates them when a profile's Expires comes).
func (e *Engine) Windowed() map[string]bool {
	out := map[string]bool{}
	for _, s := range e.segments {
		for k := range s.deps.aggs {
			if e.aggs[k].spec.Window > 0 {
				out[s.seg.ID] = true
			}
		}
		for name := range s.deps.computed {
			for _, t := range e.traits {
				if t.def.Name == name && (t.agg == nil || t.agg.spec.Window > 0) {
					out[s.seg.ID] = true
				}
			}
		}
		if s.deps.allComputed || s.deps.predictions || anyOf(s.deps.segments, out) {
			out[s.seg.ID] = true
		}
	}
	return out
}

func anyOf(want, have map[string]bool) bool {
	if len(want) > len(have) {
		want, have = have, want
	}
	for k := range want {
		if have[k] {
			return true
		}
	}
	return false
}

// ReadsIdentities reports whether some condition or expression reads identities.
func (e *Engine) ReadsIdentities() bool {
	for _, s := range e.segments {
		if s.deps.identities {
			return true
		}
	}
	for _, t := range e.traits {
		if t.deps.identities {
			return true
		}
	}
	return false
}

// AggregateKeys returns the keys of the aggregates the definitions keep.
func (e *Engine) AggregateKeys() map[string]bool {
	out := make(map[string]bool, len(e.aggs))
	for k := range e.aggs {
		out[k] = true
	}
	return out
}
