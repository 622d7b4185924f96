package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestAnalyticsCache: with max_age a kept answer of that age is served (with its Age) and the
// report is not computed again; without it every request computes; answers are per workspace,
// per settings and per format; errors are not kept.
func TestAnalyticsCache(t *testing.T) {
	s := &Server{acache: newAnalyticsCache()}
	computed := 0
	h := s.cachedAnalytics(func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
		if r.URL.Query().Get("event") == "bad" {
			return kenner.Errorf(kenner.EInvalid, "bad")
		}
		computed++
		fmt.Fprintf(w, `{"n":%d}`, computed)
		return nil
	})
	get := func(ws, query string) (string, string, error) {
		rec := httptest.NewRecorder()
		err := h(rec, httptest.NewRequest("GET", "/v1/analytics/trends?"+query, nil), &kenner.Token{WorkspaceID: ws})
		return rec.Body.String(), rec.Header().Get("Age"), err
	}
	for i, tc := range []struct {
		ws, query, want string
	}{
		{"a", "event=x", `{"n":1}`},
		{"a", "event=x", `{"n":2}`},                       // no max_age: computed
		{"a", "event=x&max_age=60", `{"n":2}`},            // the kept one
		{"a", "max_age=60&event=x", `{"n":2}`},            // the same settings in another order
		{"b", "event=x&max_age=60", `{"n":3}`},            // another workspace
		{"a", "event=y&max_age=60", `{"n":4}`},            // other settings
		{"a", "event=x&max_age=60&format=csv", `{"n":5}`}, // another format
		{"a", "event=x&max_age=0", `{"n":6}`},             // max_age 0: computed, and kept
		{"a", "event=x&max_age=60", `{"n":6}`},
	} {
		body, age, err := get(tc.ws, tc.query)
		if err != nil || body != tc.want {
			t.Errorf("%d: %s %s: %q %v, want %q", i, tc.ws, tc.query, body, err, tc.want)
		}
		if age == "" {
			t.Errorf("%d: no Age header", i)
		}
	}
	if _, _, err := get("a", "event=bad&max_age=60"); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("an error: %v", err)
	}
	if _, _, err := get("a", "event=x&max_age=soon"); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("a bad max_age: %v", err)
	}
	for i := range analyticsCacheSize + 10 {
		get("a", fmt.Sprintf("event=e%d&max_age=60", i))
	}
	if n := len(s.acache.answers); n != analyticsCacheSize {
		t.Errorf("%d answers kept, want at most %d", n, analyticsCacheSize)
	}
}

// BenchmarkAnalyticsCacheHit: serving a kept answer (an attribution report's size, 20 KB)
// costs the same whatever the workspace's size.
func BenchmarkAnalyticsCacheHit(b *testing.B) {
	s := &Server{acache: newAnalyticsCache()}
	body := make([]byte, 20<<10)
	h := s.cachedAnalytics(func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
		w.Write(body)
		return nil
	})
	tok := &kenner.Token{WorkspaceID: "ws"}
	h(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/analytics/attribution?conversion=Order+Completed&max_age=0", nil), tok)
	for b.Loop() {
		h(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/analytics/attribution?conversion=Order+Completed&max_age=120", nil), tok)
	}
}
