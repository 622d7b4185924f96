package segment

import "github.com/kenner-cdp/kenner"

// Personal names the computed traits whose values are personal data when isPII says which
// field names are: an aggregate that keeps values (first, last, most frequent, unique) of a
// PII property or trait, and an expression that reads a PII trait, every trait, the
// identities or a computed trait that is itself personal. Counts, sums and averages are
// numbers about a person, not the person's data, and stay readable.
func (e *Engine) Personal(isPII func(name string) bool) map[string]bool {
	out := map[string]bool{}
	for _, t := range e.traits { // in dependency order: what an expression reads is decided first
		if t.agg != nil {
			switch t.def.Func {
			case kenner.FuncFirst, kenner.FuncLast, kenner.FuncMostFrequent, kenner.FuncUnique:
				for _, seg := range t.agg.property {
					if isPII(seg) {
						out[t.def.Name] = true
						break
					}
				}
			}
			continue
		}
		d := t.deps
		personal := d.allTraits || d.identities || d.allComputed
		for name := range d.traits {
			personal = personal || isPII(name)
		}
		for name := range d.computed {
			personal = personal || out[name]
		}
		if personal {
			out[t.def.Name] = true
		}
	}
	return out
}
