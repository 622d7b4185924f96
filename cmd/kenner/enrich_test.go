package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestEnrichment: an enrichment service answers traits for new people; they land on the
// profile with the enrichment's source in the provenance, once per question (cached); a
// failing service is retried and never holds up processing; erasing the person removes them.
func TestEnrichment(t *testing.T) {
	var asked, failing atomic.Int32
	var mu sync.Mutex
	var auth []string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		if failing.Load() > 0 {
			failing.Add(-1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		asked.Add(1)
		var q struct {
			Profile struct {
				Traits map[string]any `json:"traits"`
			} `json:"profile"`
		}
		json.NewDecoder(r.Body).Decode(&q)
		switch q.Profile.Traits["email"] {
		case "ada@acme.example":
			json.NewEncoder(w).Encode(map[string]any{"traits": map[string]any{"company": "Acme", "employees": 250, "email": "spoof@x.example"}})
		case "bob@globex.example":
			json.NewEncoder(w).Encode(map[string]any{"traits": map[string]any{"company": "Globex", "industry": "Energy"}})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer svc.Close()

	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	code, src := api("POST", "/v1/sources", `{"name":"firmographics"}`)
	if code != 201 {
		t.Fatalf("source: %d %v", code, src)
	}
	if code, out := api("POST", "/v1/destinations", `{"name":"firmo","type":"enrichment","config":{"url":"`+svc.URL+`","source":"nope"},"subscribe":{"profiles":true}}`); code != 400 {
		t.Errorf("an enrichment into no source: %d %v", code, out)
	}
	if code, out := api("POST", "/v1/destinations", `{"name":"firmo","type":"enrichment","config":{"url":"`+svc.URL+`","source":"firmographics"}}`); code != 400 {
		t.Errorf("an enrichment without profile changes: %d %v", code, out)
	}
	code, d := api("POST", "/v1/destinations", `{"name":"firmo","type":"enrichment","max_attempts":5,
		"config":{"url":"`+svc.URL+`","source":"firmographics","headers":{"Authorization":"Bearer firmo-key"}},"subscribe":{"profiles":true}}`)
	if code != 201 {
		t.Fatalf("destination: %d %v", code, d)
	}
	if h := d["config"].(map[string]any)["headers"].(map[string]any)["Authorization"]; h != "(set)" {
		t.Errorf("the API key is write-only: %v", h)
	}

	send := batchSender(t, s.url, creds.WriteKey)
	failing.Store(2) // the service is down for the first two calls
	send(`{"batch":[{"type":"identify","userId":"ada","traits":{"email":"ada@acme.example","name":"Ada"}}]}`)
	// Processing goes on while the service fails.
	send(`{"batch":[{"type":"identify","userId":"cy","traits":{"email":"cy@nowhere.example"}}]}`)
	waitProfile(t, s.url, creds.AdminToken, "user_id:cy", nil)
	var traits map[string]any
	waitUntil(t, "ada's company", func() bool {
		code, out := api("GET", "/v1/profiles/user_id:ada/traits", "")
		traits, _ = out["traits"].(map[string]any)
		return code == 200 && traits["company"] != nil
	})
	company := traits["company"].(map[string]any)
	if company["value"] != "Acme" || company["source_id"] != src["id"] || traits["employees"].(map[string]any)["value"] != 250.0 {
		t.Errorf("enriched traits: %v", traits)
	}
	if traits["email"].(map[string]any)["value"] != "ada@acme.example" {
		t.Errorf("a watched trait was overwritten by the answer: %v", traits["email"])
	}
	// Bob twice under two ids with the same question: the second is answered from the cache.
	send(`{"batch":[{"type":"identify","userId":"bob","traits":{"email":"bob@globex.example"}}]}`)
	waitUntil(t, "bob's industry", func() bool {
		code, out := api("GET", "/v1/profiles/user_id:bob", "")
		return code == 200 && out["traits"].(map[string]any)["industry"] == "Energy"
	})
	before := asked.Load()
	send(`{"batch":[{"type":"track","userId":"bob","event":"Viewed"}]}`) // no watched change: not asked
	send(`{"batch":[{"type":"identify","userId":"cy","traits":{"plan":"pro"}}]}`)
	waitProfile(t, s.url, creds.AdminToken, "user_id:cy", func(p map[string]any) bool { return p["traits"].(map[string]any)["plan"] == "pro" })
	if n := asked.Load(); n != before {
		t.Errorf("the service was asked %d more times about changes it does not watch", n-before)
	}
	mu.Lock()
	for _, a := range auth {
		if a != "Bearer firmo-key" {
			t.Errorf("a request without the API key: %q", a)
		}
	}
	mu.Unlock()

	// Erasure removes the person and with them the enriched traits.
	if code, out := api("DELETE", "/v1/profiles/user_id:ada", ""); code != 202 {
		t.Fatalf("erase: %d %v", code, out)
	}
	waitUntil(t, "ada erased", func() bool {
		code, _ := api("GET", "/v1/profiles/user_id:ada/traits", "")
		return code == 404
	})
}
