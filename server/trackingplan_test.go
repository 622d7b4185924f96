package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
)

const orderPlan = `{
	"mode": "%s",
	"unplanned": "flag",
	"events": {
		"Order Completed": {"type": "object", "required": ["order_id", "total"],
			"properties": {"order_id": {"type": "string"}, "total": {"type": "number", "minimum": 0}, "currency": {"enum": ["USD", "EUR"]}}}
	},
	"identify": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
}`

func TestTrackingPlanBlockAndReplay(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	if code, out := s.do(t, "PUT", "/v1/sources/web/tracking-plan", admin, fmt.Sprintf(orderPlan, "block")); code != 200 {
		t.Fatalf("PUT plan: %d %v", code, out)
	}
	s.track(t, `{"batch": [
		{"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "good", "properties": {"order_id": "o1", "total": 10, "currency": "USD"}},
		{"type": "track", "userId": "u2", "event": "Order Completed", "messageId": "bad", "properties": {"order_id": 7, "total": -1, "currency": "GBP"}},
		{"type": "track", "userId": "u3", "event": "Page Liked", "messageId": "unplanned"},
		{"type": "identify", "userId": "u4", "messageId": "bad-email", "traits": {"email": "not an email"}}
	]}`)

	// The good and the unplanned (flagged) events reach profiles; the two bad ones do not.
	waitFor(t, func() bool {
		code, _ := s.do(t, "GET", "/v1/profiles/user_id:u3", admin, "")
		return code == 200
	})
	code, out := s.do(t, "GET", "/v1/events?message_id=unplanned", admin, "")
	ev := out["events"].([]any)[0].(map[string]any)
	vs, _ := ev["context"].(map[string]any)["violations"].([]any)
	if code != 200 || len(vs) != 1 || !strings.Contains(vs[0].(map[string]any)["message"].(string), "not in the tracking plan") {
		t.Errorf("unplanned event not flagged: %v", ev["context"])
	}
	for _, ref := range []string{"user_id:u2", "user_id:u4"} {
		if code, _ := s.do(t, "GET", "/v1/profiles/"+ref, admin, ""); code != 404 {
			t.Errorf("%s: %d, want 404 (its event is in quarantine)", ref, code)
		}
	}

	code, out = s.do(t, "GET", "/v1/sources/web/violations", admin, "")
	if code != 200 {
		t.Fatalf("violations: %d %v", code, out)
	}
	got := map[string]float64{}
	for _, v := range out["violations"].([]any) {
		v := v.(map[string]any)
		got[v["event"].(string)+" "+v["path"].(string)+" "+v["message"].(string)] = v["count"].(float64)
	}
	want := map[string]float64{
		"Order Completed /order_id is number, want string":           1,
		"Order Completed /total is less than the minimum 0":          1,
		"Order Completed /currency is not one of the allowed values": 1,
		"Page Liked  event is not in the tracking plan":              1,
		"identify /email is not a valid email":                       1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("violation %q counted %v, want %v (all: %v)", k, got[k], n, got)
		}
	}
	if b, _ := json.Marshal(out); strings.Contains(string(b), "not an email") {
		t.Errorf("a violation repeats the value it found: %s", b)
	}

	code, out = s.do(t, "GET", "/v1/sources/web/quarantine?limit=1", admin, "")
	if code != 200 || len(out["events"].([]any)) != 1 || out["next"] == "" {
		t.Fatalf("quarantine page 1: %d %v", code, out)
	}
	q1 := out["events"].([]any)[0].(map[string]any)
	if q1["message_id"] != "bad" || q1["body"].(map[string]any)["userId"] != "u2" || len(q1["violations"].([]any)) != 3 {
		t.Errorf("quarantined event = %v", q1)
	}
	_, out = s.do(t, "GET", "/v1/sources/web/quarantine?after="+url.QueryEscape(out["next"].(string)), admin, "")
	if len(out["events"].([]any)) != 1 {
		t.Fatalf("quarantine page 2: %v", out)
	}

	// Replaying under the same plan keeps them; relaxing the identify schema releases one.
	code, out = s.do(t, "POST", "/v1/sources/web/quarantine/replay", admin, "")
	if code != 200 || out["released"] != 0.0 || out["kept"] != 2.0 {
		t.Fatalf("replay under the same plan: %d %v", code, out)
	}
	relaxed := strings.Replace(fmt.Sprintf(orderPlan, "block"), `"format": "email"`, `"minLength": 1`, 1)
	if code, out := s.do(t, "PUT", "/v1/sources/web/tracking-plan", admin, relaxed); code != 200 {
		t.Fatalf("PUT relaxed plan: %d %v", code, out)
	}
	code, out = s.do(t, "POST", "/v1/sources/web/quarantine/replay", admin, "")
	if code != 200 || out["released"] != 1.0 || out["kept"] != 1.0 {
		t.Fatalf("replay under the relaxed plan: %d %v", code, out)
	}
	waitFor(t, func() bool {
		code, _ := s.do(t, "GET", "/v1/profiles/user_id:u4", admin, "")
		return code == 200
	})
	// force sends the order on whatever the plan says.
	_, out = s.do(t, "GET", "/v1/sources/web/quarantine", admin, "")
	id := out["events"].([]any)[0].(map[string]any)["id"].(float64)
	code, out = s.do(t, "POST", "/v1/sources/web/quarantine/replay", admin, fmt.Sprintf(`{"ids": [%d], "force": true}`, int64(id)))
	if code != 200 || out["released"] != 1.0 {
		t.Fatalf("forced replay: %d %v", code, out)
	}
	waitFor(t, func() bool {
		code, _ := s.do(t, "GET", "/v1/profiles/user_id:u2", admin, "")
		return code == 200
	})
	if _, out := s.do(t, "GET", "/v1/sources/web/quarantine", admin, ""); len(out["events"].([]any)) != 0 {
		t.Errorf("quarantine not empty: %v", out)
	}
}

func TestTrackingPlanModesAndErrors(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	bad := []struct{ body, want string }{
		{`{"mode": "reject"}`, "mode"},
		{`{"mode": "block", "unplanned": "drop"}`, "unplanned"},
		{`{"mode": "block", "events": {"X": {"type": "objekt"}}}`, `event "X"`},
		{`{"mode": "block", "identify": {"type": 5}}`, "identify"},
		{`{"mode": "block", "events": {"X": {"$ref": "http://example.com/s.json"}}}`, `event "X"`},
	}
	for _, b := range bad {
		code, out := s.do(t, "PUT", "/v1/sources/web/tracking-plan", admin, b.body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, b.want) {
			t.Errorf("PUT %s: %d %v, want 400 naming %q", b.body, code, out, b.want)
		}
	}

	// allow: counted, not marked; flag: counted and marked.
	for _, mode := range []string{"allow", "flag"} {
		if code, out := s.do(t, "PUT", "/v1/sources/web/tracking-plan", admin, fmt.Sprintf(orderPlan, mode)); code != 200 {
			t.Fatalf("PUT %s: %d %v", mode, code, out)
		}
		s.track(t, `{"batch": [{"type": "track", "userId": "m-`+mode+`", "event": "Order Completed", "messageId": "`+mode+`", "properties": {"order_id": "o"}}]}`)
		var ev map[string]any
		waitFor(t, func() bool {
			_, out := s.do(t, "GET", "/v1/events?message_id="+mode, admin, "")
			evs, _ := out["events"].([]any)
			if len(evs) == 0 {
				return false
			}
			ev = evs[0].(map[string]any)
			return true
		})
		_, flagged := ev["context"].(map[string]any)["violations"]
		if flagged != (mode == "flag") {
			t.Errorf("mode %s: context.violations present = %v", mode, flagged)
		}
	}
	_, out := s.do(t, "GET", "/v1/sources/web/violations", admin, "")
	if v := out["violations"].([]any); len(v) != 1 || v[0].(map[string]any)["count"] != 2.0 || v[0].(map[string]any)["message"] != "missing property 'total'" {
		t.Errorf("violations = %v", v)
	}
	if code, _ := s.do(t, "DELETE", "/v1/sources/web/tracking-plan", admin, ""); code != 204 {
		t.Errorf("DELETE plan: %d", code)
	}
	if code, _ := s.do(t, "GET", "/v1/sources/nope/violations", admin, ""); code != 404 {
		t.Errorf("unknown source: %d", code)
	}
}

// An import's rows that the plan blocks are rejected rows with the reasons, not quarantined.
func TestTrackingPlanImport(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	if code, out := s.do(t, "PUT", "/v1/sources/web/tracking-plan", admin, fmt.Sprintf(orderPlan, "block")); code != 200 {
		t.Fatalf("PUT plan: %d %v", code, out)
	}
	q := url.Values{"source": {"web"}, "type": {"track"}, "mapping": {"event: Order Completed\ncolumns: {id: userId, order: properties.order_id, total: {target: properties.total, type: number}}"}}
	code, rep := s.postImport(t, admin, q, "id,order,total\nu1,o1,5\nu2,o2,-3\n")
	if code != 200 || rep["imported"] != 1.0 || rep["rejected"] != 1.0 {
		t.Fatalf("import: %d %v", code, rep)
	}
	r := rep["rejects"].([]any)[0].(map[string]any)
	if r["line"] != 3.0 || !strings.Contains(r["reason"].(string), "blocked by the tracking plan: /total is less than the minimum 0") {
		t.Errorf("reject = %v", r)
	}
	if _, out := s.do(t, "GET", "/v1/sources/web/quarantine", admin, ""); len(out["events"].([]any)) != 0 {
		t.Errorf("an import row went to the quarantine: %v", out)
	}
}
