package segment

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/predict"
	"github.com/kenner-cdp/kenner/profile"
)

// model is a prediction model compiled in: the purchase history it keeps on profiles (clv),
// and its trained parameters (nil before the first training), which predictions.<name> is
// computed with.
type model struct {
	def        kenner.Model
	agg        *aggregate
	clv        *predict.CLVParams
	classifier *predict.ClassifierParams
}

// Definitions are what an Engine compiles: a workspace's computed traits, segments and models.
type Definitions struct {
	Traits   []kenner.ComputedTrait
	Segments []kenner.Segment
	Models   []kenner.Model
}

// DaysKey is the key of the purchase-days aggregate of a clv model's order event and revenue:
// what its training reads of every profile.
func DaysKey(event, revenue string) string {
	return aggregateKey("m", kenner.FuncDays, event, revenue)
}

func (c *compiler) models(defs []kenner.Model) error {
	for _, d := range defs {
		if err := ValidName(d.Name); err != nil {
			return invalid("model %q: %v", d.Name, err)
		}
		m := &model{def: d}
		switch d.Kind {
		case kenner.ModelCLV:
			if d.Event == "" {
				return invalid("model %q: event is required (the order event, e.g. Order Completed)", d.Name)
			}
			a := &aggregate{spec: profile.Spec{Func: kenner.FuncDays}, event: d.Event, key: DaysKey(d.Event, d.Revenue)}
			if d.Revenue != "" {
				a.property = strings.Split(d.Revenue, ".")
			}
			m.agg = c.add(a)
			if d.Version > 0 {
				var p predict.CLVParams
				if err := json.Unmarshal(d.Params, &p); err != nil {
					return invalid("model %q: parameters: %v", d.Name, err)
				}
				m.clv = &p
			}
		case kenner.ModelClassifier:
			if d.Version > 0 {
				var p predict.ClassifierParams
				if err := json.Unmarshal(d.Params, &p); err != nil {
					return invalid("model %q: parameters: %v", d.Name, err)
				}
				if len(p.Model.Weights) != len(p.Features) {
					return invalid("model %q: parameters: %d weights for %d features", d.Name, len(p.Model.Weights), len(p.Features))
				}
				m.classifier = &p
			}
		default:
			return invalid("model %q: unknown kind %q (want clv or classifier)", d.Name, d.Kind)
		}
		c.e.models = append(c.e.models, m)
	}
	return nil
}

// Predictions returns p's scores at now, by model name (a model not trained yet, or a clv
// model for someone who never bought, has none).
func (e *Engine) Predictions(p *kenner.Profile, now time.Time) map[string]any {
	in := e.Input(p, nil, now)
	return in.predictions()
}

// predictions computes the scores once per Input, when a condition or a reader first asks:
// most evaluations never read them.
func (in *Input) predictions() map[string]any {
	if in.preds != nil || in.eng == nil {
		return in.preds
	}
	in.preds = map[string]any{}
	for _, m := range in.eng.models {
		switch {
		case m.clv != nil:
			h, ok := predict.Summarize(in.prof.Aggregates[m.agg.key], in.now)
			if !ok {
				continue
			}
			if s, err := m.clv.Score(h); err == nil {
				in.preds[m.def.Name] = s
			}
		case m.classifier != nil:
			fields := make(map[string]any, len(m.classifier.Features))
			for _, f := range m.classifier.Features {
				if v, ok := in.field(f.Field); ok {
					fields[f.Field] = v
				}
			}
			in.preds[m.def.Name] = m.classifier.Score(fields)
		}
	}
	return in.preds
}

// field reads a profile field by its dotted name: traits.x or computed.x.
func (in *Input) field(name string) (any, bool) {
	kind, key, ok := strings.Cut(name, ".")
	if !ok {
		return nil, false
	}
	var v any
	switch kind {
	case "traits":
		v, ok = in.Traits[key]
	case "computed":
		v, ok = in.Computed[key]
	default:
		return nil, false
	}
	return v, ok
}

// modelsDiffer reports whether two engines score differently: a model added, removed, retrained
// or redefined.
func modelsDiffer(a, b []*model) bool {
	if len(a) != len(b) {
		return true
	}
	key := func(m *model) string {
		return fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%s", m.def.Name, m.def.Kind, m.def.Version, m.def.Event, m.def.Revenue)
	}
	seen := map[string]bool{}
	for _, m := range a {
		seen[key(m)] = true
	}
	for _, m := range b {
		if !seen[key(m)] {
			return true
		}
	}
	return false
}

// ModelAggregate returns the key of the purchase-days aggregate of the named clv model.
func (e *Engine) ModelAggregate(name string) (string, bool) {
	for _, m := range e.models {
		if m.def.Name == name && m.agg != nil {
			return m.agg.key, true
		}
	}
	return "", false
}
