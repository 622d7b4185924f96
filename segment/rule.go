package segment

import (
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Rule is a condition in the language of segment conditions, compiled against an engine's
// definitions but kept by no profile: it is evaluated when asked (a personalization variant).
// It may name the engine's segments and computed traits, and count events only the way some
// segment already does, since no profile keeps any other count.
type Rule struct {
	c *compiled
}

// Rule compiles src against e's definitions. Errors are kenner.EInvalid.
func (e *Engine) Rule(src string) (*Rule, error) {
	c := &compiler{opts: e.opts, e: e, rule: true, traitNames: map[string]bool{}}
	for _, t := range e.traits {
		c.traitNames[t.def.Name] = true
	}
	for _, s := range e.segments {
		c.all = append(c.all, s.seg)
	}
	p, d, err := c.condition(src)
	if err != nil {
		return nil, invalid("%v", err)
	}
	for name := range d.computed {
		if !c.traitNames[name] {
			return nil, invalid("the condition reads computed.%s, and there is no computed trait %q", name, name)
		}
	}
	return &Rule{c: &compiled{seg: kenner.Segment{Condition: src}, prog: p, deps: d}}, nil
}

// RuleInput is Input for evaluating rules: with p's groups when a rule reads them and the
// engine's definitions do not.
func (e *Engine) RuleInput(p *kenner.Profile, ids []kenner.Identifier, now time.Time, rules []*Rule) Input {
	in := e.Input(p, ids, now)
	for _, r := range rules {
		if r.c.deps.groups && in.Groups == nil {
			in.Groups = decodeGroups(p)
			break
		}
	}
	return in
}

// Traits are the trait names the rule reads by name (traits.vip), sorted; a rule that reads
// the traits map as a whole ("vip" in traits) names none.
func (r *Rule) Traits() []string {
	out := make([]string, 0, len(r.c.deps.traits))
	for name := range r.c.deps.traits {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// ReadsIdentities reports whether the rule reads identities (Input then needs them).
func (r *Rule) ReadsIdentities() bool { return r.c.deps.identities }

// Holds evaluates the rule over in, for a profile whose current memberships are segments
// (segment id → since). An evaluation error (a missing trait) is false with the error.
func (r *Rule) Holds(in Input, segments map[string]time.Time) (bool, error) {
	act := &activation{in: &in}
	for id := range r.c.deps.segments {
		if _, ok := segments[id]; ok {
			act.segments = append(act.segments, id)
		}
	}
	v, _, err := r.c.prog.Eval(act)
	if err != nil {
		return false, err
	}
	b, _ := v.Value().(bool)
	return b, nil
}
