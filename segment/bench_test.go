package segment_test

import (
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

// BenchmarkEvaluate is the work per profile of a pass over every profile (a build, a
// preview): one condition evaluated against a profile with a few traits and aggregates.
func BenchmarkEvaluate(b *testing.B) {
	traits := []kenner.ComputedTrait{
		{Name: "orders_30d", Func: kenner.FuncCount, Event: "Order Completed", Window: kenner.Duration(720 * time.Hour)},
		{Name: "revenue", Func: kenner.FuncSum, Event: "Order Completed", Property: "properties.total"},
		{Name: "last_path", Func: kenner.FuncLast, Event: "$page", Property: "properties.path"},
	}
	segs := []kenner.Segment{
		{ID: "s0", Name: "s0", Condition: `events.count("Order Completed", duration("720h")) >= 2`},
		{ID: "s1", Name: "s1", Condition: `has(traits.plan) && traits.plan == "p2"`},
		{ID: "new", Name: "new", Condition: `has(traits.plan) && traits.plan == "p1" && (computed.revenue > 50.0 || events.count("Order Completed", duration("720h")) >= 2)`},
	}
	e, err := segment.Compile(traits, segs, segment.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := &kenner.Profile{ID: "p", Traits: map[string]kenner.Trait{"plan": trait(`"p1"`), "email": trait(`"a@example.com"`)},
		Segments: map[string]time.Time{"s0": t0}}
	for _, ev := range []*kenner.Event{
		track(1, "Order Completed", t0.Add(-2*time.Hour), `{"total": 42.5}`),
		track(2, "Order Completed", t0.Add(-1*time.Hour), `{"total": 42.5}`),
	} {
		if _, err := e.Fold(p, ev); err != nil {
			b.Fatal(err)
		}
	}
	only := map[string]bool{"new": true}
	for b.Loop() {
		if !e.Evaluate(e.Input(p, nil, t0), p.Segments, only)["new"].Member {
			b.Fatal("not a member")
		}
	}
}
