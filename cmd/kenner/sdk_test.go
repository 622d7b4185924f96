package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSDKs sends events with the real Segment and RudderStack Node SDKs (from npm, installed in
// sdktest/ by .ci/run) and reads them back through /v1/events with their fields intact.
func TestSDKs(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "sdktest"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@segment", "analytics-node")); err != nil {
		if os.Getenv("KENNER_TEST_SDK") != "" {
			t.Fatalf("KENNER_TEST_SDK is set but the SDKs are not installed: run npm ci in %s", dir)
		}
		t.Skipf("the SDKs are not installed: run (cd sdktest && npm ci) to run this test")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	run := time.Now().Format("150405.000")
	for _, sdk := range []string{"segment", "rudderstack"} {
		t.Run(sdk, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "node", "send.js", sdk, s.url, creds.WriteKey, run)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node send.js %s: %v\n%s\nserver log:\n%s", sdk, err, out, s.logs)
			}
			byID := eventsByMessageID(t, s.url, creds.AdminToken)
			userID, anonID := sdk+"-user-"+run, sdk+"-anon-"+run
			check := func(typ string, want map[string]any) {
				t.Helper()
				e, ok := byID[sdk+"-"+typ+"-"+run]
				if !ok {
					t.Errorf("%s: the %s call is not listed", sdk, typ)
					return
				}
				if e["type"] != typ {
					t.Errorf("%s %s: type %v", sdk, typ, e["type"])
				}
				for path, v := range want {
					if got := lookup(e, path); !equalJSON(got, v) {
						t.Errorf("%s %s: %s = %v, want %v", sdk, typ, path, got, v)
					}
				}
				for _, f := range []string{"timestamp", "receivedAt", "context.library.name", "context.ip"} {
					if lookup(e, f) == nil {
						t.Errorf("%s %s: no %s", sdk, typ, f)
					}
				}
			}
			check("identify", map[string]any{"userId": userID, "anonymousId": anonID, "traits.email": run + "@example.com", "traits.plan": "pro", "traits.logins": 3})
			check("track", map[string]any{"userId": userID, "event": "Order Completed", "properties.revenue": 42.5, "properties.currency": "EUR", "properties.products.0.sku": "A"})
			check("page", map[string]any{"anonymousId": anonID, "name": "Pricing", "context.campaign.source": "sdk", "context.campaign.name": "test"})
			check("group", map[string]any{"userId": userID, "groupId": "acme-" + run, "traits.employees": 120})
			check("alias", map[string]any{"userId": userID, "previousId": anonID})
		})
	}
}

func eventsByMessageID(t *testing.T, url, token string) map[string]map[string]any {
	req, _ := http.NewRequest("GET", url+"/v1/events?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Events []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]any{}
	for _, e := range out.Events {
		byID[e["messageId"].(string)] = e
	}
	return byID
}

// lookup follows a dotted path (numbers index arrays) through decoded JSON.
func lookup(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i := 0
			for _, c := range part {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
