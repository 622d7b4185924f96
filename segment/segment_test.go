package segment_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

func track(seq uint64, name string, at time.Time, props string) *kenner.Event {
	body := fmt.Sprintf(`{"type":"track","event":%q,"messageId":"m%d","userId":"u","timestamp":%q,"properties":%s}`,
		name, seq, at.Format(time.RFC3339Nano), props)
	return &kenner.Event{Type: "track", Name: name, MessageID: fmt.Sprintf("m%d", seq), Seq: seq, Timestamp: at, Body: json.RawMessage(body)}
}

func trait(v string) kenner.Trait { return kenner.Trait{Value: json.RawMessage(v)} }

func TestConditions(t *testing.T) {
	traits := []kenner.ComputedTrait{
		{Name: "orders_30d", Func: kenner.FuncCount, Event: "Order Completed", Window: kenner.Duration(30 * 24 * time.Hour)},
		{Name: "revenue", Func: kenner.FuncSum, Event: "Order Completed", Property: "properties.total"},
	}
	p := &kenner.Profile{Traits: map[string]kenner.Trait{"plan": trait(`"pro"`), "age": trait(`41`)}}
	events := []*kenner.Event{
		track(1, "Order Completed", t0.Add(-40*24*time.Hour), `{"total": 10}`),
		track(2, "Order Completed", t0.Add(-10*24*time.Hour), `{"total": 20}`),
		track(3, "Order Completed", t0.Add(-2*time.Hour), `{"total": "30.5"}`),
		track(4, "Product Viewed", t0.Add(-3*time.Hour), `{"category": "shoes"}`),
		track(5, "Product Viewed", t0.Add(-30*time.Hour), `{"category": "hats"}`),
	}
	tests := []struct {
		cond string
		want bool
	}{
		{`events.count("Order Completed", duration("720h")) >= 2 && traits.plan == "pro"`, true},
		{`events.count("Order Completed", duration("720h")) >= 3`, false},
		{`events.count("Order Completed") == 3`, true},
		{`events.exists("Product Viewed", duration("24h"), e, e.properties.category == "shoes")`, true},
		{`events.exists("Product Viewed", duration("24h"), e, e.properties.category == "hats")`, false},
		{`events.exists("Product Viewed", duration("48h"), p, p.properties.category == "hats")`, true},
		{`events.count("Order Completed", duration("30d"), e, double(e.properties.total) > 15.0) == 2`, true},
		{`!events.exists("Order Completed", duration("168h"))`, false},
		{`!events.exists("Refund Requested", duration("168h"))`, true},
		{`computed.orders_30d == 2 && computed.revenue == 60.5`, true},
		{`traits.age > 40 && traits.age < 50.5`, true},
		{`traits.missing == "x"`, false}, // a missing trait fails the condition: not a member
		{`has(traits.missing) || identities.user_id.exists(u, u == "u1")`, true},
		{`[1, 2, 3].exists(x, x > 2)`, true},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			seg := kenner.Segment{ID: "s", Name: "s", Condition: tc.cond}
			e, err := segment.Compile(traits, []kenner.Segment{seg}, segment.Options{})
			if err != nil {
				t.Fatal(err)
			}
			q := *p
			q.Aggregates = nil
			for _, ev := range events {
				if _, err := e.Fold(&q, ev); err != nil {
					t.Fatal(err)
				}
			}
			in := e.Input(&q, []kenner.Identifier{{Kind: "user_id", Value: "u1"}}, t0)
			got := e.Evaluate(in, nil, nil)["s"]
			if got.Member != tc.want {
				t.Errorf("member = %v (err %v), want %v", got.Member, got.Err, tc.want)
			}
		})
	}
}

func TestInvalidConditions(t *testing.T) {
	segs := []kenner.Segment{{ID: "seg_a", Name: "A", Condition: "true"}}
	tests := []struct{ cond, want string }{
		{`traits.plan ==`, "1:15: Syntax error"},
		{`traits.plan + 1`, "must be true or false"},
		{`events.count(name, duration("1h")) > 1`, "1:14: events.count: the event name must be a string literal"},
		{`events.count("X", duration(w)) > 1`, "1:27: events.count: the window must be a literal duration"},
		{`events.count("X", duration("soon")) > 1`, "1:27: events.count: the window must be a positive duration"},
		{`events.exists("X", duration("1h"), e, e.total + "a")`, "1:47: events.exists: condition: must be true or false, not string"},
		{`events.exists("X", duration("1h"), e)`, "takes 1, 2 or 4 arguments"},
		{`computed.nope > 1`, "there is no computed trait \"nope\""},
		{`segment("B")`, `1:9: segment("B"): there is no segment with that name or id`},
		{`unknown_var`, "undeclared reference to 'unknown_var'"},
		{`__aggs.size() > 0 && __none == []`, ""}, // internal names are usable only through the functions
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			_, err := segment.Compile(nil, append(segs, kenner.Segment{ID: "seg_x", Name: "X", Condition: tc.cond}), segment.Options{})
			if tc.want == "" {
				return
			}
			if err == nil {
				t.Fatalf("compiled; want an error with %q", tc.want)
			}
			if kenner.ErrorCode(err) != kenner.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v (code %s), want %q", err, kenner.ErrorCode(err), tc.want)
			}
		})
	}
}

func TestSegmentReferencesAndCycles(t *testing.T) {
	segs := []kenner.Segment{
		{ID: "seg_vip", Name: "VIP", Condition: `segment("Pro") && traits.spend > 100`},
		{ID: "seg_pro", Name: "Pro", Condition: `traits.plan == "pro"`},
	}
	e, err := segment.Compile(nil, segs, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Segments(); got[0].ID != "seg_pro" {
		t.Errorf("order = %v, want seg_pro first", got)
	}
	p := &kenner.Profile{Traits: map[string]kenner.Trait{"plan": trait(`"pro"`), "spend": trait(`150`)}}
	res := e.Evaluate(e.Input(p, nil, t0), nil, nil)
	if !res["seg_vip"].Member || !res["seg_pro"].Member {
		t.Errorf("results = %+v, want both", res)
	}
	if got := e.Affected(segment.Change{Traits: []string{"plan"}}); !got["seg_pro"] || !got["seg_vip"] {
		t.Errorf("Affected(plan) = %v, want both (VIP names Pro)", got)
	}
	if got := e.Affected(segment.Change{Traits: []string{"spend"}}); got["seg_pro"] || !got["seg_vip"] {
		t.Errorf("Affected(spend) = %v, want VIP only", got)
	}
	if got := e.Affected(segment.Change{Segments: map[string]bool{"seg_pro": true}}); !got["seg_pro"] || !got["seg_vip"] {
		t.Errorf("Affected(segment pro) = %v, want both (VIP names Pro)", got)
	}
	if got := e.Affected(segment.Change{Segments: map[string]bool{"seg_vip": true}}); got["seg_pro"] || !got["seg_vip"] {
		t.Errorf("Affected(segment vip) = %v, want VIP only", got)
	}
	if got := e.Affected(segment.Change{Traits: []string{"name"}}); got != nil {
		t.Errorf("Affected(name) = %v, want none", got)
	}
	segs[1].Condition = `segment("seg_vip")`
	if _, err := segment.Compile(nil, segs, segment.Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle compiled: %v", err)
	}
}

func TestCostLimit(t *testing.T) {
	cond := `traits.tags.all(a, traits.tags.all(b, a != b || a == b))`
	e, err := segment.Compile(nil, []kenner.Segment{{ID: "s", Name: "s", Condition: cond}}, segment.Options{CostLimit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	tags := make([]string, 500)
	for i := range tags {
		tags[i] = fmt.Sprintf(`"t%d"`, i)
	}
	p := &kenner.Profile{Traits: map[string]kenner.Trait{"tags": trait("[" + strings.Join(tags, ",") + "]")}}
	got := e.Evaluate(e.Input(p, nil, t0), nil, nil)["s"]
	if got.Member || got.Err == nil || !strings.Contains(got.Err.Error(), "cost") {
		t.Errorf("result = %+v, want the cost limit to stop it", got)
	}
	small := &kenner.Profile{Traits: map[string]kenner.Trait{"tags": trait(`["a","b"]`)}}
	if got := e.Evaluate(e.Input(small, nil, t0), nil, nil)["s"]; !got.Member {
		t.Errorf("small list: %+v, want member", got)
	}
}

// TestWindowExpiry moves a fake clock past the window: the value falls with no new event, and
// Tidy says when.
func TestWindowExpiry(t *testing.T) {
	traits := []kenner.ComputedTrait{{Name: "views_1d", Func: kenner.FuncCount, Event: "$page", Window: kenner.Duration(24 * time.Hour)}}
	segs := []kenner.Segment{{ID: "quiet", Name: "quiet", Condition: `!events.exists("Order Completed", duration("168h"))`}}
	e, err := segment.Compile(traits, segs, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &kenner.Profile{}
	page := &kenner.Event{Type: "page", Seq: 9, Timestamp: t0, Body: json.RawMessage(`{"type":"page"}`)}
	for _, ev := range []*kenner.Event{page, track(10, "Order Completed", t0, `{}`)} {
		if _, err := e.Fold(p, ev); err != nil {
			t.Fatal(err)
		}
	}
	e.Tidy(p, t0)
	width := 24 * time.Hour / 64
	if want := t0.Truncate(width).Add(width).Add(24 * time.Hour); !p.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v (the page's bucket leaves the day window)", p.Expires, want)
	}
	check := func(now time.Time, views int64, quiet bool) {
		t.Helper()
		if got := e.Computed(p, now)["views_1d"]; got != views {
			t.Errorf("at %v: views_1d = %v, want %d", now, got, views)
		}
		if got := e.Evaluate(e.Input(p, nil, now), nil, nil)["quiet"].Member; got != quiet {
			t.Errorf("at %v: quiet = %v, want %v", now, got, quiet)
		}
	}
	check(t0, 1, false)
	check(t0.Add(23*time.Hour), 1, false)
	check(p.Expires.Add(-time.Second), 1, false)
	check(p.Expires, 0, false)
	check(t0.Add(169*time.Hour), 0, true)
	e.Tidy(p, t0.Add(200*time.Hour))
	if len(p.Aggregates) != 0 || !p.Expires.IsZero() {
		t.Errorf("after every window: aggregates %v, expires %v; want none", p.Aggregates, p.Expires)
	}
}

func TestRule(t *testing.T) {
	segs := []kenner.Segment{{ID: "seg_vip", Name: "VIP", Condition: `traits.plan == "vip"`},
		{ID: "seg_buyers", Name: "Buyers", Condition: `events.count("Order Completed") >= 2`}}
	eng, err := segment.Compile(nil, segs, segment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &kenner.Profile{ID: "p", Traits: map[string]kenner.Trait{"plan": {Value: json.RawMessage(`"vip"`)}, "age": {Value: json.RawMessage(`41`)}},
		Segments: map[string]time.Time{"seg_vip": time.Now()},
		Groups:   map[string]kenner.Group{"acme": {Traits: json.RawMessage(`{"tier":"gold"}`)}}}
	for _, c := range []struct {
		src     string
		want    bool
		invalid bool
	}{
		{src: `segment("VIP")`, want: true},
		{src: `segment("seg_vip") && traits.age > 40`, want: true},
		{src: `segment("Buyers")`, want: false},
		{src: `events.count("Order Completed") >= 2`, want: false}, // kept by the Buyers segment
		{src: `groups["acme"].tier == "gold"`, want: true},
		{src: `events.count("Signed Up") > 0`, invalid: true}, // no profile keeps this count
		{src: `segment("Nobody")`, invalid: true},
		{src: `computed.ltv > 1`, invalid: true},
		{src: `traits.plan`, invalid: true},
	} {
		r, err := eng.Rule(c.src)
		if c.invalid {
			if kenner.ErrorCode(err) != kenner.EInvalid {
				t.Errorf("%s: %v, want invalid", c.src, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		got, err := r.Holds(eng.RuleInput(p, nil, time.Now(), []*segment.Rule{r}), p.Segments)
		if err != nil || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}
