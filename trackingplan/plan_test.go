package trackingplan_test

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/trackingplan"
)

var plan = kenner.TrackingPlan{
	Mode:      kenner.PlanBlock,
	Unplanned: kenner.PlanFlag,
	Events: map[string]json.RawMessage{
		"Order Completed": json.RawMessage(`{"type": "object", "required": ["total"], "additionalProperties": false,
			"properties": {"total": {"type": "number", "maximum": 10000}, "coupon": {"type": "string", "pattern": "^[A-Z0-9]+$"},
			"products": {"type": "array", "items": {"type": "object", "required": ["sku"]}}}}`),
	},
	Identify: json.RawMessage(`{"type": "object", "properties": {"email": {"type": "string", "format": "email"}, "plan": {"enum": ["free", "pro"]}}}`),
}

func TestCheck(t *testing.T) {
	p, err := trackingplan.Compile(plan)
	if err != nil {
		t.Fatal(err)
	}
	v := func(event, path, msg string) kenner.Violation {
		return kenner.Violation{Event: event, Path: path, Message: msg}
	}
	tests := []struct {
		name string
		body string
		want trackingplan.Verdict
	}{
		{"valid", `{"type":"track","event":"Order Completed","properties":{"total":5,"coupon":"A1"}}`, trackingplan.Verdict{Action: "allow"}},
		{"several problems", `{"type":"track","event":"Order Completed","properties":{"total":"5","coupon":"secret code","x":1,"products":[{}]}}`,
			trackingplan.Verdict{Action: "block", Violations: []kenner.Violation{
				v("Order Completed", "", "has properties not in the plan: 'x'"),
				v("Order Completed", "/coupon", `does not match pattern "^[A-Z0-9]+$"`),
				v("Order Completed", "/products/0", "missing property 'sku'"),
				v("Order Completed", "/total", "is string, want number"),
			}}},
		{"no properties", `{"type":"track","event":"Order Completed"}`, trackingplan.Verdict{Action: "block", Violations: []kenner.Violation{v("Order Completed", "", "missing property 'total'")}}},
		{"too much", `{"type":"track","event":"Order Completed","properties":{"total":20000.5}}`, trackingplan.Verdict{Action: "block", Violations: []kenner.Violation{v("Order Completed", "/total", "is more than the maximum 10000")}}},
		{"unplanned", `{"type":"track","event":"Wished"}`, trackingplan.Verdict{Action: "flag", Violations: []kenner.Violation{v("Wished", "", "event is not in the tracking plan")}}},
		{"identify", `{"type":"identify","traits":{"email":"jane at example","plan":"gold"}}`, trackingplan.Verdict{Action: "block", Violations: []kenner.Violation{
			v("identify", "/email", "is not a valid email"), v("identify", "/plan", "is not one of the allowed values")}}},
		{"page is not planned", `{"type":"page","name":"Home"}`, trackingplan.Verdict{Action: "allow"}},
		// Names the client sent that are personal data (a property named after an email, an
		// event named after a phone number) are not kept: violations cannot be erased per person.
		{"personal names", `{"type":"track","event":"Order Completed","properties":{"total":5,"ann@example.com":1}}`,
			trackingplan.Verdict{Action: "block", Violations: []kenner.Violation{
				v("Order Completed", "", "has properties not in the plan: '(a name that looks like personal data)'")}}},
		{"personal event name", `{"type":"track","event":"call +31 6 1234 5678"}`, trackingplan.Verdict{Action: "flag", Violations: []kenner.Violation{
			v("(a name that looks like personal data)", "", "event is not in the tracking plan")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Check([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			// Violations are stored in plain text: they never repeat the values they found.
			for _, vi := range got.Violations {
				for _, secret := range []string{"secret code", "jane at example", "gold", "20000", "ann@example.com", "1234 5678"} {
					if strings.Contains(vi.Message+vi.Event+vi.Path, secret) {
						t.Errorf("violation %q repeats the value %q", vi.Message, secret)
					}
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for name, p := range map[string]kenner.TrackingPlan{
		"mode":        {Mode: "reject"},
		"unplanned":   {Unplanned: "drop"},
		"bad schema":  {Events: map[string]json.RawMessage{"X": json.RawMessage(`{"type": "objekt"}`)}},
		"not JSON":    {Events: map[string]json.RawMessage{"X": json.RawMessage(`{`)}},
		"remote ref":  {Identify: json.RawMessage(`{"$ref": "https://example.com/traits.json"}`)},
		"empty event": {Events: map[string]json.RawMessage{" ": json.RawMessage(`{}`)}},
	} {
		if _, err := trackingplan.Compile(p); kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("%s: Compile = %v, want an invalid error", name, err)
		}
	}
}

func TestEnforcerCountsAndFlushes(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := trackingplan.NewEnforcer(store, slog.New(slog.DiscardHandler))
	src := &kenner.Source{ID: "src_1", WorkspaceID: "ws", Settings: kenner.SourceSettings{TrackingPlan: &plan}}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, err := e.Check(src, []byte(`{"type":"track","event":"Order Completed","properties":{}}`), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// A source without a plan is not checked.
	if v, _ := e.Check(&kenner.Source{ID: "src_2"}, []byte(`{"type":"track","event":"X"}`), t0); v.Action != kenner.PlanAllow || len(v.Violations) != 0 {
		t.Errorf("no plan: %+v", v)
	}
	if got, _ := store.Violations(t.Context(), "ws", "src_1"); len(got) != 0 {
		t.Fatalf("counts written before a flush: %v", got)
	}
	if err := e.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := store.Violations(t.Context(), "ws", "src_1")
	if err != nil {
		t.Fatal(err)
	}
	want := []kenner.ViolationCount{{SourceID: "src_1", Violation: kenner.Violation{Event: "Order Completed", Message: "missing property 'total'"},
		Count: 3, FirstSeen: t0, LastSeen: t0.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Violations (-want +got):\n%s", diff)
	}
	// A plan edited in place is compiled again.
	relaxed := plan
	relaxed.Events = map[string]json.RawMessage{"Order Completed": json.RawMessage(`{}`)}
	src.Settings.TrackingPlan = &relaxed
	if v, _ := e.Check(src, []byte(`{"type":"track","event":"Order Completed","properties":{}}`), t0); len(v.Violations) != 0 {
		t.Errorf("after the edit: %+v", v)
	}
}
