package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestSyncExisting: a destination created after people are already in its segment receives
// them as segment.entered once (by default), and not at all with "sync_existing": false;
// later entries arrive as usual.
func TestSyncExisting(t *testing.T) {
	st := newStack(t)
	mk, admin := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAdmin]
	_, seg := st.do(t, "POST", "/v1/segments", mk, `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	segID := seg["id"].(string)
	st.track(t, `{"batch":[{"type":"identify","userId":"a","traits":{"plan":"pro"},"messageId":"s1"},
		{"type":"identify","userId":"b","traits":{"plan":"pro"},"messageId":"s2"},
		{"type":"identify","userId":"c","traits":{"plan":"free"},"messageId":"s3"}]}`)
	waitFor(t, func() bool {
		_, out := st.do(t, "GET", "/v1/segments/"+segID+"/members", mk, "")
		ms, _ := out["members"].([]any)
		return len(ms) == 2
	})

	var mu sync.Mutex
	got := map[string][]string{} // receiver -> "type profile" of each body
	receiver := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var p struct {
				Type    string
				Profile struct{ ID string }
			}
			json.NewDecoder(r.Body).Decode(&p)
			mu.Lock()
			got[name] = append(got[name], p.Type+" "+p.Profile.ID)
			mu.Unlock()
		}))
	}
	synced, unsynced := receiver("synced"), receiver("unsynced")
	defer synced.Close()
	defer unsynced.Close()
	code, d := st.do(t, "POST", "/v1/destinations", admin, fmt.Sprintf(`{"name":"crm","type":"webhook","config":{"url":%q},"subscribe":{"segments":[%q]}}`, synced.URL, segID))
	if code != 201 || d["sync_existing"] != true {
		t.Fatalf("create: %d %v", code, d)
	}
	if code, d := st.do(t, "POST", "/v1/destinations", admin, fmt.Sprintf(`{"name":"ads","type":"webhook","config":{"url":%q},"subscribe":{"segments":[%q]},"sync_existing":false}`, unsynced.URL, segID)); code != 201 {
		t.Fatalf("create: %d %v", code, d)
	}
	id := d["id"].(string)
	waitFor(t, func() bool {
		_, cur := st.do(t, "GET", "/v1/destinations/"+id, admin, "")
		mu.Lock()
		defer mu.Unlock()
		return cur["synced_at"] != nil && len(got["synced"]) == 2
	})
	// A later entry reaches both.
	st.track(t, `{"batch":[{"type":"identify","userId":"c","traits":{"plan":"pro"},"messageId":"s4"}]}`)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["synced"]) == 3 && len(got["unsynced"]) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	for _, b := range got["synced"] {
		if b[:len("segment.entered")] != "segment.entered" {
			t.Errorf("synced receiver got %q", b)
		}
	}
}
