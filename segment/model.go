package segment

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

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
	// events are a classifier's event histories (one bucket per day), by event name: their
	// counts and recency are features.
	events   map[string]*aggregate
	lead     *leadModel
	affinity *predict.Affinity
}

// leadModel is a lead model compiled: its event rules keep purchase-days-like counts per day
// on every profile, its condition rules are programs over the profile.
type leadModel struct {
	events     []leadEvents
	conditions []leadCondition
	halfLife   time.Duration
}

type leadEvents struct {
	agg    *aggregate
	points float64
}

type leadCondition struct {
	prog   cel.Program
	points float64
}

// Definitions are what an Engine compiles: a workspace's computed traits, segments and models.
type Definitions struct {
	Traits   []kenner.ComputedTrait
	Segments []kenner.Segment
	Models   []kenner.Model
}

// ItemsKey is the key of the aggregate of the products an affinity model's order events hold.
func ItemsKey(event, item string) string {
	return aggregateKey("a", "items", event, item)
}

// Items lists the products a profile's items aggregate holds.
func Items(a *kenner.Aggregate) []string {
	v, ok := profile.Value(a, profile.Spec{Func: kenner.FuncUnique}, time.Time{})
	if !ok {
		return nil
	}
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
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
			m.events = map[string]*aggregate{}
			for _, ev := range d.Events {
				m.events[ev] = c.add(&aggregate{spec: profile.Spec{Func: kenner.FuncDays}, event: ev, key: aggregateKey("f", kenner.FuncDays, ev)})
			}
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
		case kenner.ModelAffinity:
			if d.Event == "" || d.Item == "" {
				return invalid("model %q: event and item are required", d.Name)
			}
			m.agg = c.add(&aggregate{spec: profile.Spec{Func: kenner.FuncUnique}, event: d.Event, property: strings.Split(d.Item, "."),
				multi: true, key: ItemsKey(d.Event, d.Item)})
			if d.Version > 0 {
				var p predict.Affinity
				if err := json.Unmarshal(d.Params, &p); err != nil {
					return invalid("model %q: parameters: %v", d.Name, err)
				}
				m.affinity = &p
			}
		case kenner.ModelLead:
			l, err := c.lead(d)
			if err != nil {
				return invalid("model %q: %v", d.Name, err)
			}
			m.lead = l
		default:
			return invalid("model %q: unknown kind %q (want clv, classifier or lead)", d.Name, d.Kind)
		}
		c.e.models = append(c.e.models, m)
	}
	// Classifiers first: a lead model adds a classifier's probability to its points.
	slices.SortStableFunc(c.e.models, func(a, b *model) int { return cmp.Compare(rank(a), rank(b)) })
	return nil
}

// rank orders the models' scoring: clv and affinity models first (classifiers may learn from
// their scores), then classifiers (lead models may add their probability), then lead models.
func rank(m *model) int {
	switch m.def.Kind {
	case kenner.ModelClassifier:
		return 1
	case kenner.ModelLead:
		return 2
	}
	return 0
}

// lead compiles a lead model's rules.
func (c *compiler) lead(d kenner.Model) (*leadModel, error) {
	evEnv, err := eventEnv()
	if err != nil {
		return nil, err
	}
	profEnv, err := cel.NewEnv(profileVars()...)
	if err != nil {
		return nil, err
	}
	l := &leadModel{halfLife: time.Duration(d.HalfLife)}
	for i, r := range d.Rules {
		if r.Event != "" {
			a := &aggregate{spec: profile.Spec{Func: kenner.FuncDays}, event: r.Event, key: aggregateKey("l", kenner.FuncDays, r.Event, strings.TrimSpace(r.Where))}
			if strings.TrimSpace(r.Where) != "" {
				f, err := compileEventFilter(evEnv, r.Where, c.opts.CostLimit)
				if err != nil {
					return nil, fmt.Errorf("rule %d: where: %v", i+1, err)
				}
				a.whereVar, a.where = "e", f.prog
			}
			l.events = append(l.events, leadEvents{agg: c.add(a), points: r.Points})
			continue
		}
		ast, iss := profEnv.Compile(r.Condition)
		if iss.Err() != nil {
			return nil, fmt.Errorf("rule %d: condition: %v", i+1, iss.Err())
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			return nil, fmt.Errorf("rule %d: condition must be true or false, not %s", i+1, ast.OutputType())
		}
		if collect(ast.NativeRep().Expr()).predictions {
			return nil, fmt.Errorf("rule %d: a condition cannot read predictions; use score_model", i+1)
		}
		prog, err := c.program(profEnv, ast)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %v", i+1, err)
		}
		l.conditions = append(l.conditions, leadCondition{prog: prog, points: r.Points})
	}
	return l, nil
}

// leadStages adds, for every lead model, one segment per stage above the first: a profile is
// in the stage its score reaches, so entries, exits, sweeps and builds work as for segments.
func (c *compiler) leadStages() error {
	for _, m := range c.e.models {
		if m.lead == nil {
			continue
		}
		for i, st := range m.def.Stages {
			if i == 0 {
				continue
			}
			id := kenner.LeadStageSegment(m.def.ID, st.Name)
			src := fmt.Sprintf("has(predictions.%s) && predictions.%s.stage == %s", m.def.Name, m.def.Name, strconv.Quote(st.Name))
			p, d, err := c.condition(src)
			if err != nil {
				return invalid("model %q: stage %q: %v", m.def.Name, st.Name, err)
			}
			seg := &compiled{seg: kenner.Segment{ID: id, Name: m.def.Name + ": " + st.Name, Condition: src}, prog: p, deps: d}
			c.e.segments = append(c.e.segments, seg)
			c.e.byID[id] = seg
		}
	}
	return nil
}

// leadScore is a profile's points under a lead model at now.
func (in *Input) leadScore(m *model) (score float64, points bool) {
	fading, steady, points := in.leadPoints(m)
	return fading + steady, points
}

// leadPoints splits a profile's points into those that fade (event points under a half-life:
// their sum halves every half-life from now on) and those that stay.
func (in *Input) leadPoints(m *model) (fading, steady float64, points bool) {
	for _, ev := range m.lead.events {
		a := in.prof.Aggregates[ev.agg.key]
		if a == nil {
			continue
		}
		for _, b := range a.Buckets {
			w := 1.0
			if m.lead.halfLife > 0 {
				// Points fade by the day: a day's events count whole until the day is over.
				age := in.now.Sub(time.Unix(b.Start, 0).Add(24 * time.Hour))
				w = math.Exp2(-max(age.Seconds(), 0) / m.lead.halfLife.Seconds())
			}
			if m.lead.halfLife > 0 {
				fading += ev.points * float64(b.Count) * w
			} else {
				steady += ev.points * float64(b.Count)
			}
			points = true
		}
	}
	act := &activation{in: in}
	for _, cnd := range m.lead.conditions {
		v, _, err := cnd.prog.Eval(act)
		if err == nil && v.Value() == true {
			steady += cnd.points
			points = true
		}
	}
	if m.def.ScoreModel != "" {
		if p, ok := in.predictions()[m.def.ScoreModel].(float64); ok {
			steady += m.def.ModelPoints * p
			points = true
		}
	}
	return fading, steady, points
}

// leadExpiry is when a profile's fading points take it below the threshold of the lead stage
// it is in (zero: never, or it is in none): the sweeper evaluates it again then, so a lead
// that goes cold leaves its stage without a new event.
func (e *Engine) leadExpiry(p *kenner.Profile, now time.Time) time.Time {
	var at time.Time
	for _, m := range e.models {
		if m.lead == nil || m.lead.halfLife <= 0 {
			continue
		}
		threshold, staged := 0.0, false
		for _, st := range m.def.Stages[1:] {
			if _, ok := p.Segments[kenner.LeadStageSegment(m.def.ID, st.Name)]; ok {
				threshold, staged = st.Threshold, true
			}
		}
		if !staged {
			continue
		}
		// A day's points start fading when the day is over: from a day on, all of them fade
		// as one exponential, and the crossing is solved for; before, it is searched for.
		ref := now.Add(24 * time.Hour)
		points := func(at time.Time) (float64, float64) {
			in := e.Input(p, nil, at)
			f, s, _ := in.leadPoints(m)
			return f, s
		}
		fading, steady := points(ref)
		if fading <= 0 || steady >= threshold {
			continue
		}
		var t time.Time
		if fading+steady >= threshold {
			// fading · 2^(-d/h) + steady = threshold; a minute late, so that the score is
			// below it when evaluated.
			d := time.Duration(float64(m.lead.halfLife) * math.Log2(fading/(threshold-steady)))
			t = ref.Add(d + time.Minute)
		} else {
			lo, hi := now, ref
			for hi.Sub(lo) > time.Minute {
				mid := lo.Add(hi.Sub(lo) / 2)
				if f, s := points(mid); f+s >= threshold {
					lo = mid
				} else {
					hi = mid
				}
			}
			t = hi
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}

// stage is the stage a score reaches.
func stage(stages []kenner.LeadStage, score float64) string {
	name := stages[0].Name
	for _, st := range stages {
		if score >= st.Threshold {
			name = st.Name
		}
	}
	return name
}

// LeadStageOf names the lead model and stage of a lead stage segment id.
func (e *Engine) LeadStageOf(segmentID string) (modelName, modelID, stage string, ok bool) {
	for _, m := range e.models {
		if m.lead == nil {
			continue
		}
		for _, st := range m.def.Stages[1:] {
			if kenner.LeadStageSegment(m.def.ID, st.Name) == segmentID {
				return m.def.Name, m.def.ID, st.Name, true
			}
		}
	}
	return "", "", "", false
}

// BaseStage is a lead model's first stage: where a lead in no stage segment is.
func (e *Engine) BaseStage(modelID string) string {
	for _, m := range e.models {
		if m.lead != nil && m.def.ID == modelID {
			return m.def.Stages[0].Name
		}
	}
	return ""
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
		case m.affinity != nil:
			owned := Items(in.prof.Aggregates[m.agg.key])
			if len(owned) == 0 {
				continue
			}
			items, scores := m.affinity.Recommend(owned)
			if len(items) == 0 {
				continue
			}
			list := make([]any, len(items))
			sc := make([]any, len(items))
			for i := range items {
				list[i], sc[i] = items[i], scores[i]
			}
			in.preds[m.def.Name] = map[string]any{"items": list, "scores": sc}
		case m.lead != nil:
			score, _ := in.leadScore(m)
			in.preds[m.def.Name] = map[string]any{"score": math.Round(score*100) / 100, "stage": stage(m.def.Stages, score)}
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

// field reads a profile field by its dotted name: traits.x, computed.x,
// events.<event>.count or .days_since (of a classifier's events), or predictions.<clv
// model>.<score> (scored before classifiers).
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
	case "events":
		i := strings.LastIndex(key, ".")
		if i < 0 {
			return nil, false
		}
		return in.eventMetric(key[:i], key[i+1:])
	case "predictions":
		v, ok = lookup(in.preds, strings.Split(key, "."))
	default:
		return nil, false
	}
	return v, ok
}

// eventMetric is the count of a classifier's event, or the days since its last one.
func (in *Input) eventMetric(event, metric string) (any, bool) {
	for _, m := range in.eng.models {
		a := m.events[event]
		if a == nil {
			continue
		}
		var count int64
		var last int64 = -1
		if agg := in.prof.Aggregates[a.key]; agg != nil {
			for _, b := range agg.Buckets {
				count += b.Count
				last = max(last, b.Start)
			}
		}
		switch metric {
		case "count":
			return float64(count), true
		case "days_since":
			if last < 0 {
				return nil, false
			}
			return max(in.now.Sub(time.Unix(last, 0)).Hours()/24, 0), true
		}
		return nil, false
	}
	return nil, false
}

// ClassifierFields are the candidate features of the named classifier for a profile: its traits,
// computed traits, the counts and recency of the model's events, and the numeric scores of the
// clv models. The trainer learns from them; scoring reads the same names with field.
func (e *Engine) ClassifierFields(in *Input, name string) map[string]any {
	out := map[string]any{}
	for k, v := range in.Traits {
		out["traits."+k] = v
	}
	for k, v := range in.Computed {
		out["computed."+k] = v
	}
	preds := in.predictions()
	for _, m := range e.models {
		if m.def.Name == name {
			for ev := range m.events {
				for _, metric := range []string{"count", "days_since"} {
					if v, ok := in.eventMetric(ev, metric); ok {
						out["events."+ev+"."+metric] = v
					}
				}
			}
		}
		if m.clv != nil {
			predict.Leaves("predictions."+m.def.Name, preds[m.def.Name], func(name string, leaf any) {
				if x, ok := leaf.(float64); ok {
					out[name] = x
				}
			})
		}
	}
	return out
}

// modelsDiffer reports whether two engines score differently: a model added, removed, retrained
// or redefined.
func modelsDiffer(a, b []*model) bool {
	if len(a) != len(b) {
		return true
	}
	key := func(m *model) string {
		b, _ := json.Marshal([]any{m.def.Rules, m.def.Stages, m.def.HalfLife, m.def.ScoreModel, m.def.ModelPoints})
		return fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%s\x00%s\x00%s", m.def.Name, m.def.Kind, m.def.Version, m.def.Event, m.def.Revenue, m.def.Item, b)
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
