package segment_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
)

// FuzzCondition compiles arbitrary segment conditions and event filters, the CEL users type:
// compiling must answer an error or an engine, never panic, and an engine must evaluate a
// profile without panicking (errors count as "not a member").
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		`traits.plan == "pro"`,
		`events.count("Order Completed", duration("720h")) >= 2 && traits.plan == "pro"`,
		`events.exists("Product Viewed", duration("24h"), e, e.properties.category == "shoes")`,
		`!events.exists("Order Completed", duration("168h"))`,
		`has(traits.email) && identities.email.size() > 0`,
		`consent.marketing && computed.orders_30d > 1`,
		`in_segment("seg_other")`,
		`[1,2,3].map(x, x * 2).size() > 2`,
		`traits.name.matches("^[A-Z]")`,
		`e.type == "track" && e.event == "Signed Up"`,
		`duration("-1h")`, `events.count("", duration("0s"))`, `"\u0000"`, `((((((`,
	} {
		f.Add(s)
	}
	traits := []kenner.ComputedTrait{{Name: "orders_30d", Func: "count", Event: "Order Completed", Window: kenner.Duration(30 * 24 * time.Hour)}}
	p := &kenner.Profile{ID: "prf_1", Traits: map[string]kenner.Trait{
		"plan": {Value: json.RawMessage(`"pro"`)}, "name": {Value: json.RawMessage(`"Ada"`)}, "email": {Value: json.RawMessage(`"ada@example.com"`)}},
		Identities: []kenner.Identity{{Identifier: kenner.Identifier{Kind: "email", Value: "ada@example.com"}}}}
	f.Fuzz(func(t *testing.T, cond string) {
		segment.CompileEventFilter(cond, 0)
		e, err := segment.Compile(traits, []kenner.Segment{{ID: "seg_f", Name: "F", Condition: cond}}, segment.Options{})
		if err != nil {
			if kenner.ErrorCode(err) != kenner.EInvalid {
				t.Fatalf("compile %q: error %v is not invalid input", cond, err)
			}
			return
		}
		e.Evaluate(e.Input(p, nil, time.Now()), nil, nil)
	})
}
