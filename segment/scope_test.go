package segment_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

func TestReads(t *testing.T) {
	traits := []kenner.ComputedTrait{
		{Name: "orders", Func: kenner.FuncCount, Event: "Order Completed"},
		{Name: "vip", Func: kenner.FuncExpression, Expression: `computed.orders > 3 || traits.tier == "gold"`},
		{Name: "loud", Func: kenner.FuncExpression, Expression: `identities.email.size() > 1`},
	}
	segs := []kenner.Segment{
		{ID: "plan", Name: "plan", Condition: `traits.plan == "pro" && events.exists("Signup", duration("24h"))`},
		{ID: "vip", Name: "vip", Condition: `computed.vip && segment("plan")`},
		{ID: "any", Name: "any", Condition: `size(traits) > 3 || consent.marketing`},
		{ID: "loud", Name: "loud", Condition: `computed.loud == true`},
	}
	e, err := segment.Compile(traits, segs, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		only       []string
		traits     []string
		all        bool
		aggs       int
		consent    bool
		identities bool
	}{
		{only: []string{"plan"}, traits: []string{"plan"}, aggs: 1},
		// vip reads plan's membership, not plan's condition; its computed trait reads a trait and an aggregate.
		{only: []string{"vip"}, traits: []string{"tier"}, aggs: 1},
		{only: []string{"any"}, all: true, consent: true},
		{only: []string{"loud"}, identities: true},
		{only: []string{"plan", "vip"}, traits: []string{"plan", "tier"}, aggs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.only[0], func(t *testing.T) {
			only := map[string]bool{}
			for _, id := range tt.only {
				only[id] = true
			}
			f, ids := e.Reads(only)
			got := slices.Sorted(maps.Keys(f.Traits))
			if !slices.Equal(got, tt.traits) || f.AllTraits != tt.all || len(f.Aggregates) != tt.aggs || f.Consent != tt.consent || ids != tt.identities {
				t.Errorf("Reads(%v) = traits %v all %v aggregates %v consent %v, identities %v", tt.only, got, f.AllTraits, f.Aggregates, f.Consent, ids)
			}
		})
	}
}

func TestSince(t *testing.T) {
	traits := []kenner.ComputedTrait{
		{Name: "orders", Func: kenner.FuncCount, Event: "Order Completed"},
		{Name: "vip", Func: kenner.FuncExpression, Expression: `computed.orders > 3`},
	}
	segs := []kenner.Segment{
		{ID: "a", Name: "a", Condition: `traits.plan == "pro"`},
		{ID: "b", Name: "b", Condition: `computed.vip == true`},
		{ID: "c", Name: "c", Condition: `segment("a") && traits.x == 1`},
		{ID: "d", Name: "d", Condition: `computed.orders > 1`},
		{ID: "m", Name: "m", Condition: `consent.ads`},
	}
	compile := func(traits []kenner.ComputedTrait, segs []kenner.Segment, opts segment.Options) *segment.Engine {
		t.Helper()
		e, err := segment.Compile(traits, segs, opts)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	old := compile(traits, segs, segment.Options{})
	edit := func(i int, cond string) []kenner.Segment {
		out := slices.Clone(segs)
		out[i].Condition = cond
		return out
	}
	tests := []struct {
		name string
		e    *segment.Engine
		want []string
	}{
		{"nothing changed", compile(traits, segs, segment.Options{}), nil},
		{"an edited condition and its dependent", compile(traits, edit(0, `traits.plan == "max"`), segment.Options{}), []string{"a", "c"}},
		{"a new segment", compile(traits, append(slices.Clone(segs), kenner.Segment{ID: "e", Name: "e", Condition: `true`}), segment.Options{}), []string{"e"}},
		{"an edited computed trait and the traits and segments reading it",
			compile([]kenner.ComputedTrait{{Name: "orders", Func: kenner.FuncCount, Event: "Order Completed", Window: kenner.Duration(time.Hour)}, traits[1]}, segs, segment.Options{}),
			[]string{"b", "d"}},
		{"an edited expression", compile([]kenner.ComputedTrait{traits[0], {Name: "vip", Func: kenner.FuncExpression, Expression: `computed.orders > 4`}}, segs, segment.Options{}),
			[]string{"b"}},
		{"a named segment replaced by another of its name", compile(traits, func() []kenner.Segment {
			out := slices.Clone(segs)
			out[0].ID = "a2"
			return out
		}(), segment.Options{}), []string{"a2", "c"}},
		{"consent defaults", compile(traits, segs, segment.Options{ConsentDefaults: map[string]bool{"ads": true}}), []string{"m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(tt.e.Since(old)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Since (-want +got):\n%s", diff)
			}
		})
	}
	if got := len(old.Since(nil)); got != len(segs) {
		t.Errorf("Since(nil) = %d segments, want all %d", got, len(segs))
	}
	fewer := compile(traits, segs[:len(segs)-1], segment.Options{})
	if got := fewer.Deleted(old); !slices.Equal(got, []string{"m"}) {
		t.Errorf("Deleted = %v, want [m]", got)
	}
}
