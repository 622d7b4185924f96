package segment_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/predict"
	"github.com/kenner-cdp/kenner/segment"
)

// trainedCLV is a clv model with the CDNOW parameters and RFM boundaries that make a weekly
// buyer a champion.
func trainedCLV(t *testing.T, version int) kenner.Model {
	t.Helper()
	p := predict.CLVParams{BGNBD: predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		Spend: predict.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}, HorizonDays: 365, DiscountRate: 0.1,
		RFM: predict.RFM{Recency: [4]float64{10, 30, 90, 180}, Frequency: [4]float64{1, 2, 3, 5}, Monetary: [4]float64{20, 50, 100, 200}}}
	b, _ := json.Marshal(p)
	return kenner.Model{ID: "mdl_clv", Name: "clv", Kind: kenner.ModelCLV, Event: "Order Completed", Revenue: "properties.revenue",
		Version: version, Params: b, Status: kenner.ModelTrained}
}

func TestPredictionsInConditions(t *testing.T) {
	segs := []kenner.Segment{
		{ID: "seg_alive", Name: "alive", Condition: `has(predictions.clv) && predictions.clv.p_alive > 0.8`},
		{ID: "seg_champ", Name: "champ", Condition: `has(predictions.clv) && predictions.clv.rfm.segment == "Champions"`},
		{ID: "seg_plan", Name: "plan", Condition: `traits.plan == "pro"`},
	}
	eng, err := segment.CompileDefinitions(segment.Definitions{Segments: segs, Models: []kenner.Model{trainedCLV(t, 1)}}, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &kenner.Profile{}
	now := t0.Add(70 * 24 * time.Hour)
	// Ten weekly orders, the last a day ago: alive, a champion.
	for i := 0; i < 10; i++ {
		at := now.Add(-time.Duration(1+7*(9-i)) * 24 * time.Hour)
		if _, err := eng.Fold(p, track(uint64(10+i), "Order Completed", at, `{"revenue":30}`)); err != nil {
			t.Fatal(err)
		}
	}
	preds := eng.Predictions(p, now)
	clv, _ := preds["clv"].(map[string]any)
	if clv == nil || clv["orders"] != 10.0 || clv["p_alive"].(float64) < 0.9 || clv["clv"].(float64) <= 0 {
		t.Fatalf("predictions = %v", preds)
	}
	res := eng.Evaluate(eng.Input(p, nil, now), nil, nil)
	if !res["seg_alive"].Member || !res["seg_champ"].Member {
		t.Errorf("a weekly buyer: alive=%v champ=%v (%v)", res["seg_alive"], res["seg_champ"], clv["rfm"])
	}
	// A year without an order later, the same history is not alive any more.
	later := now.Add(365 * 24 * time.Hour)
	if res := eng.Evaluate(eng.Input(p, nil, later), nil, nil); res["seg_alive"].Member {
		t.Errorf("a year later still alive: %v", eng.Predictions(p, later))
	}
	// Someone who never bought has no clv scores, and is in neither segment.
	empty := &kenner.Profile{}
	if preds := eng.Predictions(empty, now); len(preds) != 0 {
		t.Errorf("predictions of a non-buyer = %v", preds)
	}
	if res := eng.Evaluate(eng.Input(empty, nil, now), nil, nil); res["seg_alive"].Member || res["seg_alive"].Err != nil {
		t.Errorf("non-buyer: %+v", res["seg_alive"])
	}
	// Rules (personalization) read them too.
	r, err := eng.Rule(`predictions.clv.clv > 100`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Holds(eng.RuleInput(p, nil, now, []*segment.Rule{r}), nil); !ok || err != nil {
		t.Errorf("rule over clv: %v %v (clv %v)", ok, err, clv["clv"])
	}

	// An order affects the segments reading predictions; a retraining makes a build evaluate
	// them again, and only them.
	aff := eng.Affected(segment.Change{Aggregates: []string{segment.DaysKey("Order Completed", "properties.revenue")}})
	if !aff["seg_alive"] || !aff["seg_champ"] || aff["seg_plan"] {
		t.Errorf("an order affects %v", aff)
	}
	retrained, _ := segment.CompileDefinitions(segment.Definitions{Segments: segs, Models: []kenner.Model{trainedCLV(t, 2)}}, segment.Options{})
	since := retrained.Since(eng)
	if !since["seg_alive"] || !since["seg_champ"] || since["seg_plan"] {
		t.Errorf("after a retraining, the build evaluates %v", since)
	}
	fields, _ := retrained.Reads(map[string]bool{"seg_alive": true})
	if !fields.Aggregates[segment.DaysKey("Order Completed", "properties.revenue")] {
		t.Errorf("a condition over predictions reads %+v, not the purchase days", fields)
	}
}

func TestModelDefinitionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		m    kenner.Model
		want string
	}{
		{kenner.Model{Name: "bad name", Kind: kenner.ModelCLV, Event: "x"}, "model"},
		{kenner.Model{Name: "clv", Kind: kenner.ModelCLV}, "event is required"},
		{kenner.Model{Name: "x", Kind: "oracle"}, "unknown kind"},
		{kenner.Model{Name: "x", Kind: kenner.ModelClassifier, Version: 1, Params: json.RawMessage(`{"features":[{"field":"traits.a","kind":"number"}],"logistic":{"weights":[]}}`)}, "weights"},
	} {
		_, err := segment.CompileDefinitions(segment.Definitions{Models: []kenner.Model{tc.m}}, segment.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want one saying %q", tc.m, err, tc.want)
		}
	}
	traits := []kenner.ComputedTrait{{Name: "sneaky", Func: kenner.FuncExpression, Expression: `predictions.churn`}}
	if _, err := segment.Compile(traits, nil, segment.Options{}); err == nil {
		t.Error("a computed trait reading predictions compiled")
	}
}

// TestLeadPointsFade: a lead model's event points halve every half-life; a lead in a stage is
// due for evaluation (Expires) when its fading points take it below the stage's threshold.
func TestLeadPointsFade(t *testing.T) {
	lead := kenner.Model{ID: "mdl_lead", Name: "lead", Kind: kenner.ModelLead, HalfLife: kenner.Duration(10 * 24 * time.Hour),
		Rules:  []kenner.LeadRule{{Event: "Demo Requested", Points: 40}, {Condition: `traits.title == "VP"`, Points: 20}},
		Stages: []kenner.LeadStage{{Name: "subscriber"}, {Name: "MQL", Threshold: 50}}}
	eng, err := segment.CompileDefinitions(segment.Definitions{Models: []kenner.Model{lead}}, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	day := t0.Truncate(24 * time.Hour)
	p := &kenner.Profile{Traits: map[string]kenner.Trait{"title": trait(`"VP"`)}}
	if _, err := eng.Fold(p, track(1, "Demo Requested", day.Add(9*time.Hour), `{}`)); err != nil {
		t.Fatal(err)
	}
	stageID := kenner.LeadStageSegment("mdl_lead", "MQL")
	now := day.Add(12 * time.Hour)
	score := func(at time.Time) map[string]any { return eng.Predictions(p, at)["lead"].(map[string]any) }
	if s := score(now); s["score"] != 60.0 || s["stage"] != "MQL" {
		t.Fatalf("on the day: %v, want 60 points, MQL", s)
	}
	res := eng.Evaluate(eng.Input(p, nil, now), nil, nil)
	if !res[stageID].Member {
		t.Fatalf("not in the MQL stage segment: %v", res)
	}
	p.Segments = map[string]time.Time{stageID: now}
	eng.Tidy(p, now)
	// The day's 40 points fade once the day is over: 40 · 2^(-d/10 days) + 20 = 50 when
	// d = 10 days · log2(4/3), 4.15 days.
	want := day.Add(24 * time.Hour).Add(time.Duration(float64(10*24*time.Hour) * math.Log2(40.0/30)))
	if d := p.Expires.Sub(want); d < 0 || d > 2*time.Minute {
		t.Errorf("Expires = %v, want just after %v", p.Expires, want)
	}
	if s := score(p.Expires); s["stage"] != "subscriber" {
		t.Errorf("at Expires: %v, want subscriber", s)
	}
	if s := score(p.Expires.Add(-time.Hour)); s["stage"] != "MQL" {
		t.Errorf("an hour before Expires: %v, want MQL", s)
	}
	if res := eng.Evaluate(eng.Input(p, nil, p.Expires), p.Segments, nil); res[stageID].Member {
		t.Error("still in the stage segment when the points have faded")
	}
}

// TestClassifierFeaturesFromEventsAndCLV: a classifier learns from the count and recency of
// its events and from the clv model's scores, and scores with the same fields.
func TestClassifierFeaturesFromEventsAndCLV(t *testing.T) {
	churn := kenner.Model{ID: "mdl_churn", Name: "churn", Kind: kenner.ModelClassifier, Label: "true", Events: []string{"Support Ticket"}}
	defs := segment.Definitions{Models: []kenner.Model{trainedCLV(t, 1), churn}}
	eng, err := segment.CompileDefinitions(defs, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	day := t0.Truncate(24 * time.Hour)
	p := &kenner.Profile{Traits: map[string]kenner.Trait{"plan": trait(`"pro"`)}}
	for i, ev := range []*kenner.Event{
		track(1, "Order Completed", day.Add(-20*24*time.Hour), `{"revenue":30}`),
		track(2, "Order Completed", day.Add(-10*24*time.Hour), `{"revenue":40}`),
		track(3, "Support Ticket", day.Add(-3*24*time.Hour), `{}`),
		track(4, "Support Ticket", day.Add(-2*24*time.Hour), `{}`),
	} {
		if _, err := eng.Fold(p, ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	in := eng.Input(p, nil, day)
	fields := eng.ClassifierFields(&in, "churn")
	for name, want := range map[string]any{"traits.plan": "pro", "events.Support Ticket.count": 2.0, "events.Support Ticket.days_since": 2.0, "predictions.clv.rfm.f": 2.0} {
		if got := fields[name]; got != want {
			t.Errorf("%s = %v, want %v (fields %v)", name, got, want, fields)
		}
	}
	if _, ok := fields["predictions.clv.p_alive"]; !ok {
		t.Errorf("no clv score among the fields: %v", fields)
	}
	// Trained on two of those fields, the classifier scores with them.
	params := predict.ClassifierParams{
		Features: predict.Features{{Field: "events.Support Ticket.count", Kind: "number"}, {Field: "predictions.clv.p_alive", Kind: "number"}},
		Model:    predict.Logistic{Weights: []float64{1, -1}, Mean: []float64{0, 0}, Scale: []float64{1, 1}},
	}
	b, _ := json.Marshal(params)
	churn.Version, churn.Params = 1, b
	eng, err = segment.CompileDefinitions(segment.Definitions{Models: []kenner.Model{trainedCLV(t, 1), churn}}, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pa := fields["predictions.clv.p_alive"].(float64)
	want := math.Round(1/(1+math.Exp(-(2-pa)))*1e4) / 1e4
	if got := eng.Predictions(p, day)["churn"]; got != want {
		t.Errorf("churn = %v, want %v", got, want)
	}
}
