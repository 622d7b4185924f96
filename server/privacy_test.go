package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// TestPIIMasking checks that the analyst and viewer roles see a person's identifiers and PII
// traits masked everywhere the API shows them, and cannot use an identifier as an oracle.
func TestPIIMasking(t *testing.T) {
	st := newStack(t)
	st.track(t, `{"batch":[
		{"type":"identify","anonymousId":"dev-1","userId":"u-4711","traits":{"email":"ada@example.com","phone":"+14155550123","first_name":"Ada","plan":"pro","address":{"city":"London"}},"context":{"ip":"203.0.113.9"},"timestamp":"2024-03-01T10:01:00Z"},
		{"type":"track","userId":"u-4711","event":"Order Completed","properties":{"total":30,"email":"ada@example.com","product_name":"Lamp"},"timestamp":"2024-03-02T09:00:00Z"}]}`)
	code, p := st.do(t, "GET", "/v1/profiles/email:ada@example.com?consistent=true", st.tokens[kenner.RoleMarketer], "")
	if code != 200 {
		t.Fatalf("marketer GET: %d %v", code, p)
	}
	if p["traits"].(map[string]any)["email"] != "ada@example.com" {
		t.Errorf("marketer sees %v, want the email unmasked", p["traits"])
	}
	id := p["id"].(string)
	secrets := []string{"ada@example.com", "+14155550123", "Ada", "London", "u-4711", "dev-1", "203.0.113.9"}

	for _, role := range []kenner.Role{kenner.RoleAnalyst, kenner.RoleViewer} {
		tok := st.tokens[role]
		if code, out := st.do(t, "GET", "/v1/profiles/email:ada@example.com", tok, ""); code != 403 {
			t.Errorf("%s looking up by email: %d %v, want 403", role, code, out)
		}
		for _, path := range []string{"", "/traits", "/identities", "/events", "/merges"} {
			code, out := st.do(t, "GET", "/v1/profiles/id:"+id+path, tok, "")
			if code != 200 {
				t.Fatalf("%s GET %s: %d %v", role, path, code, out)
			}
			b, _ := json.Marshal(out)
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("%s GET profile%s shows %q: %s", role, path, s, b)
				}
			}
			if path == "" {
				traits := out["traits"].(map[string]any)
				if traits["plan"] != "pro" || traits["email"] != "a***@***.com" || traits["phone"] != "+*********23" {
					t.Errorf("%s traits = %v, want plan kept and email, phone masked", role, traits)
				}
			}
			if path == "/events" && !strings.Contains(string(b), "Lamp") {
				t.Errorf("%s events lost non-personal properties: %s", role, b)
			}
		}
	}
	code, out := st.do(t, "GET", "/v1/events", st.tokens[kenner.RoleAnalyst], "")
	b, _ := json.Marshal(out)
	if code != 200 || strings.Contains(string(b), "ada@example.com") || strings.Contains(string(b), "u-4711") {
		t.Errorf("analyst /v1/events: %d %s", code, b)
	}
	if code, _ := st.do(t, "GET", "/v1/events?user_id=u-4711", st.tokens[kenner.RoleAnalyst], ""); code != 403 {
		t.Errorf("analyst filtering events by user id: %d, want 403", code)
	}
	code, out = st.do(t, "POST", "/v1/segments/preview", st.tokens[kenner.RoleMarketer], `{"condition":"traits.plan == 'pro'"}`)
	if b, _ := json.Marshal(out); code != 200 || !strings.Contains(string(b), "ada@example.com") {
		t.Errorf("marketer preview: %d %s", code, b)
	}
}

// TestTokenRateLimit checks that one token's requests are limited without touching another's.
func TestTokenRateLimit(t *testing.T) {
	st := newStack(t, func(c *stackConfig) {
		c.deps.TokenLimiter = web.NewLimiter(0.01, 3, "token", "requests", nil)
	})
	for i := range 3 {
		if code, out := st.do(t, "GET", "/v1/segments", st.tokens[kenner.RoleViewer], ""); code != 200 {
			t.Fatalf("request %d: %d %v", i, code, out)
		}
	}
	code, out := st.do(t, "GET", "/v1/segments", st.tokens[kenner.RoleViewer], "")
	if code != 429 || out["error"].(map[string]any)["code"] != "rate_limited" {
		t.Errorf("4th request: %d %v, want 429 rate_limited", code, out)
	}
	if code, _ := st.do(t, "GET", "/v1/segments", st.tokens[kenner.RoleAnalyst], ""); code != 200 {
		t.Errorf("another token: %d, want 200", code)
	}
}
