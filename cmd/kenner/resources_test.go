package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResourceCommands drives the profiles, segments and destinations commands against a
// running server: readable tables by default, the API's JSON with --json, and a usage error
// without --url.
func TestResourceCommands(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[
		{"type":"identify","userId":"u1","traits":{"email":"ann@example.com","plan":"pro"},"messageId":"r1"},
		{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":12},"messageId":"r2"}]}`)
	remote := []string{"--url", s.url, "--token", creds.AdminToken}
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append(args, remote...)...)
		if code != 0 {
			t.Fatalf("kenner %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	waitUntil(t, "the profile", func() bool {
		code, _, _ := runCLI(t, append([]string{"profiles", "get", "user_id:u1"}, remote...)...)
		return code == 0
	})
	if out := cli("profiles", "get", "email:ann@example.com"); !strings.Contains(out, "trait plan") || !strings.Contains(out, "identity   user_id:u1") && !strings.Contains(out, "user_id:u1") {
		t.Errorf("profiles get:\n%s", out)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(cli("profiles", "get", "user_id:u1", "--json")), &p); err != nil || p["id"] == nil {
		t.Errorf("profiles get --json: %v %v", p, err)
	}
	if out := cli("profiles", "events", "user_id:u1"); !strings.Contains(out, "Order Completed") || !strings.Contains(out, "r1") {
		t.Errorf("profiles events:\n%s", out)
	}
	cli("profiles", "merges", "user_id:u1")

	if out := cli("segments", "create", "Pro", `has(traits.plan) && traits.plan == "pro"`); !strings.Contains(out, "Pro") || !strings.Contains(out, "ready") {
		t.Errorf("segments create:\n%s", out)
	}
	if out := cli("segments", "list"); !strings.Contains(out, "Pro") {
		t.Errorf("segments list:\n%s", out)
	}
	if out := cli("segments", "preview", `has(traits.plan)`); !strings.HasPrefix(out, "1 of 1 profiles match") || !strings.Contains(out, "user_id:u1") {
		t.Errorf("segments preview:\n%s", out)
	}
	var segs map[string]any
	json.Unmarshal([]byte(cli("segments", "list", "--json")), &segs)
	id := segs["segments"].([]any)[0].(map[string]any)["id"].(string)
	if out := cli("segments", "members", id, "--csv"); !strings.Contains(out, "ann@example.com") {
		t.Errorf("segments members --csv:\n%s", out)
	}

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("thanks")) }))
	defer hook.Close()
	def := filepath.Join(t.TempDir(), "crm.json")
	os.WriteFile(def, []byte(`{"name":"crm","type":"webhook","config":{"url":"`+hook.URL+`"},"subscribe":{"profiles":true}}`), 0o600)
	if out := cli("destinations", "create", def); !strings.Contains(out, "crm") {
		t.Errorf("destinations create:\n%s", out)
	}
	var ds map[string]any
	json.Unmarshal([]byte(cli("destinations", "list", "--json")), &ds)
	did := ds["destinations"].([]any)[0].(map[string]any)["id"].(string)
	if out := cli("destinations", "test", did); !strings.HasPrefix(out, "delivered: 200 thanks") {
		t.Errorf("destinations test:\n%s", out)
	}
	slot := filepath.Join(t.TempDir(), "slot.json")
	os.WriteFile(slot, []byte(`{"name":"hero","default":{"html":"hi"},"variants":[{"name":"pro","condition":"segment(\"Pro\")","content":{"html":"pro"}}]}`), 0o600)
	if out := cli("slots", "create", slot); !strings.Contains(out, "hero") {
		t.Errorf("slots create:\n%s", out)
	}
	if out := cli("slots", "list"); !strings.Contains(out, "hero") || !strings.Contains(out, "pro") {
		t.Errorf("slots list:\n%s", out)
	}
	os.WriteFile(slot, []byte(`{"name":"hero","variants":[{"name":"x","condition":"segment(\"Nobody\")"}]}`), 0o600)
	if code, _, stderr := runCLI(t, append([]string{"slots", "create", slot}, remote...)...); code == 0 || !strings.Contains(stderr, "Nobody") {
		t.Errorf("slots create with an unknown segment: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "segments", "list", "--data", data); code != 2 || !strings.Contains(stderr, "--url") {
		t.Errorf("segments list without --url: %d %s", code, stderr)
	}
}
