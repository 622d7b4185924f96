package segment_test

import (
	"encoding/json"
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
