package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/geoip/geoiptest"
)

// TestGeoIP: with --geoip-db, events get context.location from their IP (the client's, or the
// one a server-side call names), and a missing database stops the start with a clear message.
func TestGeoIP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	geoiptest.WriteCityDB(t, db, map[string][5]string{
		"81.2.69.0/24": {"Utrecht", "Netherlands", "NL", "Utrecht", "Europe/Amsterdam"},
		"127.0.0.0/8":  {"Loopback", "Nowhere", "ZZ", "", "UTC"},
	})
	data := t.TempDir()
	s := startServer(t, data, "--geoip-db", db)
	creds := credentialsOf(t, data)
	send := batchSender(t, s.url, creds.WriteKey)
	send(`{"batch":[{"type":"track","userId":"geo1","event":"Viewed","messageId":"g1","context":{"ip":"81.2.69.142"}},
		{"type":"track","userId":"geo2","event":"Viewed","messageId":"g2"},
		{"type":"track","userId":"geo3","event":"Viewed","messageId":"g3","context":{"ip":"81.2.69.9","location":{"city":"Kept"}}}]}`)
	api := adminAPI(t, s.url, creds.AdminToken)
	location := func(user string) map[string]any {
		var loc map[string]any
		waitUntil(t, "events of "+user, func() bool {
			code, out := api("GET", "/v1/profiles/user_id:"+user+"/events", "")
			if code != 200 || len(out["events"].([]any)) == 0 {
				return false
			}
			ctx := out["events"].([]any)[0].(map[string]any)["context"].(map[string]any)
			loc, _ = ctx["location"].(map[string]any)
			return true
		})
		return loc
	}
	if loc := location("geo1"); loc["city"] != "Utrecht" || loc["country"] != "Netherlands" || loc["country_code"] != "NL" || loc["region"] != "Utrecht" || loc["latitude"] != 52.09 {
		b, _ := json.Marshal(loc)
		t.Errorf("geo1's location: %s", b)
	}
	if loc := location("geo2"); loc["city"] != "Loopback" {
		t.Errorf("the request's IP located: %v", loc)
	}
	if loc := location("geo3"); loc["city"] != "Kept" {
		t.Errorf("a location sent is kept: %v", loc)
	}
	code, _, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--geoip-db", filepath.Join(t.TempDir(), "none.mmdb"))
	if code != 2 || !strings.Contains(stderr, "--geoip-db") {
		t.Errorf("a missing database: exit %d %q", code, stderr)
	}
}
