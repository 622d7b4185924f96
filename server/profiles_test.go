package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
)

// TestProfileAPI drives the profile endpoints end to end: tracking API → log → processor →
// store → profile API.
func TestProfileAPI(t *testing.T) {
	st := newStack(t)
	tok := st.tokens[kenner.RoleMarketer]
	st.track(t, `{"batch":[
		{"type":"page","anonymousId":"dev-1","name":"Home","timestamp":"2024-03-01T10:00:00Z"},
		{"type":"identify","anonymousId":"dev-1","userId":"u1","traits":{"email":"Ada@Example.com","name":"Ada"},"timestamp":"2024-03-01T10:01:00Z"},
		{"type":"page","anonymousId":"dev-2","name":"Cart","timestamp":"2024-03-01T12:00:00Z"},
		{"type":"track","anonymousId":"dev-2","userId":"u1","event":"Order Completed","timestamp":"2024-03-02T09:00:00Z"},
		{"type":"group","userId":"u1","groupId":"acme","traits":{"plan":"enterprise"},"timestamp":"2024-03-02T09:05:00Z"}]}`)

	code, p := st.do(t, "GET", "/v1/profiles/email:ADA@example.com?consistent=true", tok, "")
	if code != 200 {
		t.Fatalf("GET profile: %d %v", code, p)
	}
	if got := p["traits"].(map[string]any)["name"]; got != "Ada" {
		t.Errorf("traits.name = %v", got)
	}
	if got := len(p["identities"].([]any)); got != 4 {
		t.Errorf("identities = %v, want user_id, email and both devices", p["identities"])
	}
	if p["first_seen"] != "2024-03-01T10:00:00Z" || p["last_seen"] != "2024-03-02T09:05:00Z" {
		t.Errorf("seen: %v .. %v", p["first_seen"], p["last_seen"])
	}
	id := p["id"].(string)

	// Every identifier names the same profile; the ETag answers 304 while it is unchanged.
	for _, ref := range []string{"user_id:u1", "anonymous_id:dev-2", "id:" + id} {
		code, q := st.do(t, "GET", "/v1/profiles/"+url.PathEscape(ref), tok, "")
		if code != 200 || q["id"] != id {
			t.Errorf("GET %s: %d %v", ref, code, q["id"])
		}
	}
	req, _ := http.NewRequest("GET", st.url+"/v1/profiles/user_id:u1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %q: %d, want 304", etag, resp.StatusCode)
	}

	code, evs := st.do(t, "GET", "/v1/profiles/user_id:u1/events?limit=2", tok, "")
	if code != 200 || len(evs["events"].([]any)) != 2 || evs["next"] == "" {
		t.Fatalf("events page 1: %d %v", code, evs)
	}
	code, evs = st.do(t, "GET", "/v1/profiles/user_id:u1/events?limit=3&after="+evs["next"].(string), tok, "")
	if code != 200 || len(evs["events"].([]any)) != 3 || evs["next"] != "" {
		t.Errorf("events page 2: %d %v", code, evs)
	}
	code, evs = st.do(t, "GET", "/v1/profiles/user_id:u1/events?type=track&event=Order%20Completed", tok, "")
	if code != 200 || len(evs["events"].([]any)) != 1 {
		t.Errorf("filtered events: %d %v", code, evs)
	}

	code, m := st.do(t, "GET", "/v1/profiles/user_id:u1/merges", tok, "")
	if code != 200 || len(m["merges"].([]any)) != 1 {
		t.Fatalf("merges: %d %v", code, m)
	}
	if got := m["merges"].([]any)[0].(map[string]any)["action"]; got != "merge" {
		t.Errorf("merge action = %v", got)
	}

	// Split the second device out again.
	code, out := st.do(t, "POST", "/v1/profiles/user_id:u1/split", st.tokens[kenner.RoleAdmin],
		`{"identifiers":[{"kind":"anonymous_id","value":"dev-2"}]}`)
	if code != 200 {
		t.Fatalf("split: %d %v", code, out)
	}
	ids := func(p any) []string {
		var out []string
		for _, i := range p.(map[string]any)["identities"].([]any) {
			out = append(out, i.(map[string]any)["kind"].(string)+":"+i.(map[string]any)["value"].(string))
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff([]string{"anonymous_id:dev-1", "email:ada@example.com", "user_id:u1"}, ids(out["kept"])); diff != "" {
		t.Errorf("kept identities (-want +got):\n%s", diff)
	}
	// The track call carried both u1 and dev-2: under the split it keeps u1 and drops dev-2, so
	// the second device keeps only its page view.
	if diff := cmp.Diff([]string{"anonymous_id:dev-2"}, ids(out["moved"])); diff != "" {
		t.Errorf("moved identities (-want +got):\n%s", diff)
	}

	errorCases := []struct {
		method, path, token, body string
		code                      int
	}{
		{"GET", "/v1/profiles/email:nobody@example.com", tok, "", 404},
		{"GET", "/v1/profiles/nokind", tok, "", 400},
		{"GET", "/v1/profiles/shoe_size:42", tok, "", 400},
		{"GET", "/v1/profiles/email:not-an-email", tok, "", 400},
		{"GET", "/v1/profiles/user_id:u1/events?type=purchase", tok, "", 400},
		{"GET", "/v1/profiles/user_id:u1/merges?after=x", tok, "", 400},
		{"POST", "/v1/profiles/user_id:u1/split", tok, `{"identifiers":[]}`, 403},
		{"POST", "/v1/profiles/user_id:u1/split", st.tokens[kenner.RoleAdmin], `{"identifiers":[]}`, 400},
		{"POST", "/v1/profiles/user_id:u1/split", st.tokens[kenner.RoleAdmin], `{"identifiers":[{"kind":"email","value":"x@y.com"}]}`, 400},
		{"POST", "/v1/profiles/user_id:u1/split", st.tokens[kenner.RoleAdmin], `{"ids":[]}`, 400},
	}
	for _, tc := range errorCases {
		code, body := st.do(t, tc.method, tc.path, tc.token, tc.body)
		if code != tc.code {
			t.Errorf("%s %s %s: %d %v, want %d", tc.method, tc.path, tc.body, code, body, tc.code)
		}
		if e, ok := body["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
			t.Errorf("%s %s: error body %v", tc.method, tc.path, body)
		}
	}
}
