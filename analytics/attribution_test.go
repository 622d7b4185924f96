package analytics

import (
	"math"
	"testing"
	"time"
)

var day0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return day0.Add(time.Duration(d * float64(24*time.Hour))) }

func credits(r *Report, model string) map[string]float64 {
	out := map[string]float64{}
	for _, c := range r.Models[model] {
		out[c.Key] = c.Conversions
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestAttributionModels: one journey of three touches (paid search, email, a direct visit)
// before a conversion, credited by hand under each rule-based model.
func TestAttributionModels(t *testing.T) {
	j := Journey{Person: "a", Touches: []Touch{
		{At: day(0), Channel: PaidSearch, Source: "google", Medium: "cpc", Campaign: "brand"},
		{At: day(2), Channel: Email, Source: "newsletter", Medium: "email", Campaign: "march"},
		{At: day(4), Channel: Direct},
	}, Conversions: []Conversion{{At: day(5), Revenue: 100}}}
	r, err := Attribute([]Journey{j}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Time decay, half-life 7 days: the touches are 5, 3 and 1 days old.
	d := []float64{math.Exp2(-5.0 / 7), math.Exp2(-3.0 / 7), math.Exp2(-1.0 / 7)}
	sum := d[0] + d[1] + d[2]
	for _, tc := range []struct {
		model string
		want  map[string]float64
	}{
		{FirstTouch, map[string]float64{PaidSearch: 1}},
		{LastTouch, map[string]float64{Direct: 1}},
		{LastNonDirect, map[string]float64{Email: 1}},
		{Linear, map[string]float64{PaidSearch: 1.0 / 3, Email: 1.0 / 3, Direct: 1.0 / 3}},
		{TimeDecay, map[string]float64{PaidSearch: d[0] / sum, Email: d[1] / sum, Direct: d[2] / sum}},
		{Position, map[string]float64{PaidSearch: 0.4, Email: 0.2, Direct: 0.4}},
	} {
		got := credits(r, tc.model)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.model, got, tc.want)
		}
		for k, w := range tc.want {
			if !near(got[k], w) {
				t.Errorf("%s: %s got %.6f, want %.6f", tc.model, k, got[k], w)
			}
		}
	}
	// The time decay shares by hand: 0.2699, 0.3290, 0.4011.
	if got := credits(r, TimeDecay); math.Abs(got[PaidSearch]-0.2699) > 1e-4 || math.Abs(got[Direct]-0.4011) > 1e-4 {
		t.Errorf("time decay %v", got)
	}
	for _, m := range Models {
		var conv, rev float64
		for _, c := range r.Models[m] {
			conv += c.Conversions
			rev += c.Revenue
		}
		if !near(conv, 1) || !near(rev, 100) {
			t.Errorf("%s hands out %.4f conversions and %.2f revenue, want 1 and 100", m, conv, rev)
		}
	}
	// By campaign instead of channel.
	r, _ = Attribute([]Journey{j}, Options{By: "campaign"})
	if got := credits(r, FirstTouch); got["brand"] != 1 {
		t.Errorf("first touch by campaign: %v", got)
	}
	if got := credits(r, LastTouch); got["(none)"] != 1 {
		t.Errorf("last touch by campaign: %v", got)
	}
}

// TestAttributionLookback: a touch older than the lookback does not count; a conversion with
// no touch in its lookback goes to Direct and is counted unattributed.
func TestAttributionLookback(t *testing.T) {
	js := []Journey{
		{Person: "b", Touches: []Touch{{At: day(0), Channel: Social}, {At: day(40), Channel: Email}}, Conversions: []Conversion{{At: day(45), Revenue: 10}}},
		{Person: "c", Touches: []Touch{{At: day(0), Channel: Social}}, Conversions: []Conversion{{At: day(31), Revenue: 20}}},
		{Person: "d", Touches: []Touch{{At: day(1), Channel: Referral}}, Conversions: []Conversion{{At: day(1), Revenue: 5}}}, // a touch at the very instant counts
	}
	r, err := Attribute(js, Options{Lookback: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := credits(r, FirstTouch); !near(got[Email], 1) || !near(got[Direct], 1) || !near(got[Referral], 1) || got[Social] != 0 {
		t.Errorf("first touch %v: want Email 1 (Social is 45 days old), Direct 1 (c's touch is 31 days old), Referral 1", got)
	}
	if r.Unattributed != 1 || r.Conversions != 3 || !near(r.Revenue, 35) {
		t.Errorf("report %+v", r)
	}
}

// TestMarkovRemovalEffects: three paths, computed by hand. Search → Email → conversion;
// Search → null; Email → conversion. P(conversion) = 2/3 · 1/2 + 1/3 = 2/3. Without Search:
// 1/3, a removal effect of 0.5; without Email: 0, an effect of 1. The first conversion is
// shared 1/3 : 2/3 between Search and Email, the second is Email's: Search 1/3, Email 5/3.
func TestMarkovRemovalEffects(t *testing.T) {
	js := []Journey{
		{Person: "x", Touches: []Touch{{At: day(0), Channel: OrganicSearch}, {At: day(1), Channel: Email}, {At: day(10), Channel: OrganicSearch}},
			Conversions: []Conversion{{At: day(2), Revenue: 30}}},
		{Person: "y", Touches: []Touch{{At: day(0), Channel: Email}}, Conversions: []Conversion{{At: day(1), Revenue: 60}}},
	}
	r, err := Attribute(js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.RemovalEffects[OrganicSearch], 0.5) || !near(r.RemovalEffects[Email], 1) {
		t.Errorf("removal effects %v, want search 0.5, email 1", r.RemovalEffects)
	}
	got := credits(r, DataDriven)
	if !near(got[OrganicSearch], 1.0/3) || !near(got[Email], 5.0/3) {
		t.Errorf("data-driven %v, want search 1/3, email 5/3", got)
	}
	for _, c := range r.Models[DataDriven] {
		if c.Key == Email && !near(c.Revenue, 30*2.0/3+60) {
			t.Errorf("email revenue %.4f, want 80", c.Revenue)
		}
	}
}

func TestAttributionOptions(t *testing.T) {
	if _, err := Attribute(nil, Options{By: "weather"}); err == nil {
		t.Error("by weather: accepted")
	}
	if _, err := Attribute(nil, Options{Lookback: -time.Hour}); err == nil {
		t.Error("a negative lookback: accepted")
	}
}

// TestLifetimeValueCredit: a conversion's share of the person's predicted lifetime value is
// credited like its revenue: linear halves it between two touches, first touch gives it all
// to the first.
func TestLifetimeValueCredit(t *testing.T) {
	js := []Journey{
		{Person: "a", Touches: []Touch{{At: day(0), Channel: Social}, {At: day(1), Channel: Email}}, Conversions: []Conversion{{At: day(2), Revenue: 10, Value: 100}}},
		{Person: "b", Touches: []Touch{{At: day(0), Channel: Email}}, Conversions: []Conversion{{At: day(1), Revenue: 5, Value: 30}, {At: day(2), Revenue: 5, Value: 30}}},
	}
	r, err := Attribute(js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	value := func(model, key string) float64 {
		for _, c := range r.Models[model] {
			if c.Key == key {
				return c.Value
			}
		}
		return 0
	}
	if !near(value(Linear, Social), 50) || !near(value(Linear, Email), 110) || !near(value(FirstTouch, Social), 100) || !near(value(FirstTouch, Email), 60) || !near(r.Value, 160) {
		t.Errorf("linear social %v email %v, first touch social %v email %v, total %v; want 50, 110, 100, 60, 160",
			value(Linear, Social), value(Linear, Email), value(FirstTouch, Social), value(FirstTouch, Email), r.Value)
	}
	var dd float64
	for _, c := range r.Models[DataDriven] {
		dd += c.Value
	}
	if !near(dd, 160) {
		t.Errorf("the data-driven model credits %v of the value, want all 160", dd)
	}
}
