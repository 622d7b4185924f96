package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
)

// withConsentPolicy runs the stack under analytics=strip, advertising=drop, consent granted by
// default, in ingestion, processing and activation alike.
func withConsentPolicy(t *testing.T) func(*stackConfig) {
	policy, err := privacy.NewConsentPolicy(map[string]string{"Analytics": "strip", "advertising": "drop"}, true)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *stackConfig) {
		c.ingest.Consent, c.proc.Consent, c.act.Consent = policy, policy, policy
	}
}

// TestConsent drives consent end to end: answers from the tracking API's consent context and
// from PUT .../consent, their history, the per-purpose policy (strip, drop), segments over
// consent and the export.
func TestConsent(t *testing.T) {
	st := newStack(t, withConsentPolicy(t))
	mk := st.tokens[kenner.RoleMarketer]

	st.track(t, `{"batch":[{"type":"identify","userId":"u1","messageId":"m1","timestamp":"2024-05-01T10:00:00Z",
		"traits":{"email":"ada@example.com","plan":"free"},
		"context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":true}}}}]}`)
	code, out := st.do(t, "PUT", "/v1/profiles/email:ada@example.com/consent", mk, `{"purposes":{"advertising":false},"source":"preference-center","timestamp":"2024-05-02T10:00:00Z"}`)
	if code != 200 {
		t.Fatalf("PUT consent: %d %v", code, out)
	}
	if c := out["consent"].(map[string]any)["advertising"].(map[string]any); c["granted"] != false || c["source_id"] != "api" {
		t.Errorf("advertising after PUT = %v", c)
	}
	// Without consent to advertising (drop), an event that says nothing about consent is not used.
	st.track(t, `{"batch":[{"type":"track","userId":"u1","event":"Ad Clicked","messageId":"m2","timestamp":"2024-05-03T10:00:00Z"}]}`)
	// An event that refuses analytics (strip) and grants advertising again is kept, stripped.
	st.track(t, `{"batch":[{"type":"track","userId":"u1","event":"Product Viewed","messageId":"m3","timestamp":"2024-05-04T10:00:00Z",
		"properties":{"sku":"L1"},"context":{"ip":"203.0.113.9","traits":{"email":"other@example.com"},
		"consent":{"categoryPreferences":{"analytics":false,"advertising":true}}}}]}`)
	// Later events are stripped under the stored answer: the new email and name never arrive.
	st.track(t, `{"batch":[{"type":"identify","userId":"u1","messageId":"m4","timestamp":"2024-05-05T10:00:00Z",
		"traits":{"email":"new@example.com","first_name":"Ada","plan":"pro"}}]}`)

	code, p := st.do(t, "GET", "/v1/profiles/user_id:u1?consistent=true", mk, "")
	if code != 200 {
		t.Fatalf("GET profile: %d %v", code, p)
	}
	traits := p["traits"].(map[string]any)
	if traits["plan"] != "pro" || traits["email"] != "ada@example.com" || traits["first_name"] != nil {
		t.Errorf("traits = %v, want plan from the stripped identify, email from before, no name", traits)
	}
	b, _ := json.Marshal(p["identities"])
	if strings.Contains(string(b), "new@example.com") || strings.Contains(string(b), "other@example.com") {
		t.Errorf("identities hold stripped emails: %s", b)
	}
	consent := p["consent"].(map[string]any)
	if consent["analytics"].(map[string]any)["granted"] != false || consent["advertising"].(map[string]any)["granted"] != true {
		t.Errorf("consent = %v", consent)
	}
	_, evs := st.do(t, "GET", "/v1/profiles/user_id:u1/events", mk, "")
	if ids := strings.Join(messageIDs(evs), ","); !strings.HasPrefix(ids, "m4,m3,consent_") || !strings.HasSuffix(ids, ",m1") {
		t.Errorf("timeline %s, want m4, m3, the consent update and m1 (m2 dropped)", ids)
	}
	for _, e := range evs["events"].([]any) {
		ev := e.(map[string]any)
		if ev["messageId"] == "m2" {
			t.Errorf("the dropped event was stored: %v", ev)
		}
		if ev["messageId"] == "m3" {
			b, _ := json.Marshal(ev)
			if strings.Contains(string(b), "other@example.com") || strings.Contains(string(b), "203.0.113.9") || !strings.Contains(string(b), "L1") {
				t.Errorf("stripped event = %s", b)
			}
		}
	}

	_, h := st.do(t, "GET", "/v1/profiles/id:"+p["id"].(string)+"/consent", st.tokens[kenner.RoleViewer], "")
	var got []string
	for _, e := range h["history"].([]any) {
		c := e.(map[string]any)
		got = append(got, fmt.Sprintf("%s=%v", c["purpose"], c["granted"]))
	}
	if want := "advertising=true,analytics=true,advertising=false,advertising=true,analytics=false"; strings.Join(got, ",") != want {
		t.Errorf("history = %v, want %s", got, want)
	}

	// Segments read consent; purposes of the policy nobody answered take the default.
	for cond, want := range map[string]float64{"consent.advertising": 1, "consent.analytics": 0, "!consent.analytics && traits.plan == 'pro'": 1} {
		code, pv := st.do(t, "POST", "/v1/segments/preview", mk, fmt.Sprintf(`{"condition":%q}`, cond))
		if code != 200 || pv["count"] != want {
			t.Errorf("preview %s = %d %v, want count %v", cond, code, pv, want)
		}
	}

	_, exp := st.do(t, "GET", "/v1/profiles/user_id:u1/export", st.tokens[kenner.RoleAdmin], "")
	if hist := exp["consent"].(map[string]any)["history"].([]any); len(hist) != 5 {
		t.Errorf("export consent history = %v", hist)
	}

	for _, tc := range []struct{ body, want string }{
		{`{}`, "purposes is required"},
		{`{"purposes":{"":true}}`, "not a purpose name"},
		{`{"purposes":{"ads":"yes"}}`, "purposes"},
	} {
		code, e := st.do(t, "PUT", "/v1/profiles/user_id:u1/consent", mk, tc.body)
		msg, _ := e["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, tc.want) {
			t.Errorf("PUT %s = %d %q, want 400 with %q", tc.body, code, msg, tc.want)
		}
	}
	if code, _ := st.do(t, "PUT", "/v1/profiles/email:nobody@example.com/consent", mk, `{"purposes":{"ads":true}}`); code != 404 {
		t.Errorf("PUT consent of an unknown email = %d, want 404", code)
	}
}

// TestDestinationPurposes checks that a destination that needs a purpose receives only people
// who consented to it, and that events the policy strips are delivered stripped.
func TestDestinationPurposes(t *testing.T) {
	st := newStack(t, withConsentPolicy(t))
	admin := st.tokens[kenner.RoleAdmin]
	ads, all := &hook{status: http.StatusOK}, &hook{status: http.StatusOK}
	for name, h := range map[string]*hook{"ads": ads, "all": all} {
		srv := httptest.NewServer(h)
		defer srv.Close()
		purposes := `[]`
		if name == "ads" {
			purposes = `["Advertising"]`
		}
		code, d := st.do(t, "POST", "/v1/destinations", admin, fmt.Sprintf(`{"name":%q,"type":"webhook","config":{"url":%q},"purposes":%s,"subscribe":{"events":true}}`, name, srv.URL, purposes))
		if code != 201 {
			t.Fatalf("create %s: %d %v", name, code, d)
		}
		if name == "ads" && fmt.Sprint(d["purposes"]) != "[advertising]" {
			t.Errorf("purposes = %v, want normalized [advertising]", d["purposes"])
		}
	}
	st.track(t, `{"batch":[
		{"type":"track","userId":"yes","event":"A","messageId":"y1","context":{"consent":{"categoryPreferences":{"advertising":true}}}},
		{"type":"track","userId":"no","event":"A","messageId":"n1","context":{"traits":{"email":"no@example.com"},"consent":{"categoryPreferences":{"advertising":false,"analytics":false}}}}]}`)
	waitFor(t, func() bool { return ads.count() >= 1 && all.count() >= 2 })
	ads.mu.Lock()
	for _, b := range ads.bodies {
		if b["messageId"] != "y1" {
			t.Errorf("the advertising destination got %v", b["messageId"])
		}
	}
	ads.mu.Unlock()
	all.mu.Lock()
	for _, b := range all.bodies {
		if s, _ := json.Marshal(b); b["messageId"] == "n1" && strings.Contains(string(s), "no@example.com") {
			t.Errorf("stripped event delivered with its email: %s", s)
		}
	}
	all.mu.Unlock()
}

// TestConsentSourceNamed: PUT .../consent records the source the body names (by name or id)
// as the answer's source; free text stays a property of an API event.
func TestConsentSourceNamed(t *testing.T) {
	st := newStack(t)
	mk := st.tokens[kenner.RoleMarketer]
	st.track(t, `{"batch":[{"type":"identify","userId":"u1","messageId":"m1","traits":{"email":"ada@example.com"}}]}`)
	code, out := st.do(t, "PUT", "/v1/profiles/user_id:u1/consent", mk, `{"purposes":{"newsletter":true},"source":"web"}`)
	if c, _ := out["consent"].(map[string]any)["newsletter"].(map[string]any); code != 200 || c["source_id"] != st.sourceID(t, "web") {
		t.Errorf("PUT naming source web = %d %v, want the web source's id", code, out)
	}
	code, out = st.do(t, "PUT", "/v1/profiles/user_id:u1/consent", mk, `{"purposes":{"newsletter":false},"source":"support desk"}`)
	if c, _ := out["consent"].(map[string]any)["newsletter"].(map[string]any); code != 200 || c["source_id"] != "api" {
		t.Errorf("PUT with free text = %d %v, want source api", code, out)
	}
}
