package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestErasureLeavesNoTrace erases a person from a running server and then scans every file
// under the data directory (SQLite database and WAL, the NATS JetStream log, everything) for
// their identifiers and trait values; it finds another person's, and none of theirs, also
// after a replay of the log. A new event with their email is dropped, and the destination
// subscribed to profiles is told, by hashes only.
func TestErasureLeavesNoTrace(t *testing.T) {
	var mu sync.Mutex
	var received []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		received = append(received, m)
		mu.Unlock()
	}))
	defer rcv.Close()

	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	secrets := []string{"zelda.quixote@example.org", "usr-zq-48151623", "anon-zq-42424242", "Zelda Quixotova", "+4915123456789", "Quixote Lane 17", "zelda-tier-31415"}
	// Personal data that is encrypted at rest: no file ever holds it in plain text.
	// A PII field nested in a trait (contacts[].email) counts too.
	personal := []string{"zelda.quixote@example.org", "Zelda Quixotova", "+4915123456789", "Quixote Lane 17", "bob.keeper@example.org", "nested.contact@example.org"}
	// bob's plan is not personal data, so it is in the store in plain text: finding it shows
	// that the scan sees what the store holds.
	const control = "bob-tier-27182"
	find := func() map[string][]string {
		found := map[string][]string{}
		filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			for _, needle := range append(append(secrets, personal...), control) {
				if bytes.Contains(b, []byte(needle)) {
					rel, _ := filepath.Rel(data, path)
					found[needle] = append(found[needle], rel)
				}
			}
			return nil
		})
		return found
	}
	scan := func(when string) {
		t.Helper()
		found := find()
		if len(found[control]) == 0 {
			t.Errorf("%s: the scan did not find bob's plan, which is kept: it cannot see the data", when)
		}
		for _, needle := range secrets {
			if files := found[needle]; len(files) > 0 {
				t.Errorf("%s: %q is still in %v", when, needle, files)
			}
		}
	}
	if code, out := api("POST", "/v1/destinations", fmt.Sprintf(`{"name":"crm","type":"webhook","config":{"url":%q},"subscribe":{"events":true,"profiles":true}}`, rcv.URL)); code != 201 {
		t.Fatalf("destination: %d %v", code, out)
	}

	send(`{"batch":[
		{"type":"page","anonymousId":"anon-zq-42424242","name":"Pricing","messageId":"z1"},
		{"type":"identify","anonymousId":"anon-zq-42424242","userId":"usr-zq-48151623","messageId":"z2",
		 "traits":{"email":"Zelda.Quixote@example.org","name":"Zelda Quixotova","phone":"+49 151 23456789","address":{"street":"Quixote Lane 17"},"plan":"zelda-tier-31415"}},
		{"type":"track","userId":"usr-zq-48151623","event":"Order Completed","properties":{"total":99.5},"messageId":"z3"},
		{"type":"identify","userId":"usr-bob-99","traits":{"email":"bob.keeper@example.org","plan":"bob-tier-27182","contacts":[{"role":"billing","email":"nested.contact@example.org"}]},"messageId":"b1"}]}`)
	waitUntil(t, "profiles", func() bool {
		code, _ := api("GET", "/v1/profiles/user_id:usr-bob-99", "")
		code2, p := api("GET", "/v1/profiles/user_id:usr-zq-48151623", "")
		ids, _ := p["identities"].([]any)
		return code == 200 && code2 == 200 && len(ids) == 4
	})

	// A dry-run import made for her alone: its file name names her and its sample holds her
	// email, which the store keeps sealed.
	q := url.Values{"source": {"default"}, "type": {"identify"}, "dry_run": {"true"}, "file": {"usr-zq-48151623-records.csv"},
		"mapping": {"columns: {id: userId, email: traits.email}"}}
	code, imp := api("POST", "/v1/imports?"+q.Encode(), "id,email\nusr-zq-48151623,zelda.quixote@example.org\n")
	if sample, _ := imp["sample"].([]any); code != 200 || len(sample) != 1 {
		t.Fatalf("dry-run import: %d %v", code, imp)
	}

	code, export := api("GET", "/v1/profiles/email:zelda.quixote@example.org/export", "")
	if code != 200 {
		t.Fatalf("export: %d %v", code, export)
	}
	if evs, _ := export["events"].([]any); len(evs) != 3 {
		t.Errorf("export has %d events, want 3", len(evs))
	}
	if ids, _ := export["identities"].([]any); len(ids) != 4 {
		t.Errorf("export has %d identities, want 4: %v", len(ids), export["identities"])
	}
	waitUntil(t, "event deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) >= 4
	})
	profileID := export["profile"].(map[string]any)["id"].(string)

	// Before the erasure the scan sees the person's plan in the store, but never their
	// personal data: the store keeps it encrypted (emails and phones, PII traits, event
	// bodies, payloads), and the log holds events encrypted per person.
	before := find()
	if len(before["zelda-tier-31415"]) == 0 {
		t.Errorf("before erasure the scan found no trace of the person: %v", before)
	}
	for _, needle := range personal {
		if files := before[needle]; len(files) > 0 {
			t.Errorf("%q in plain text in %v: personal data must be encrypted at rest", needle, files)
		}
	}
	for needle, files := range before {
		for _, f := range files {
			if strings.HasPrefix(f, "log"+string(filepath.Separator)) {
				t.Errorf("%q in plain text in the log file %s", needle, f)
			}
		}
	}

	code, erasure := api("DELETE", "/v1/profiles/email:Zelda.Quixote@example.org", "")
	if code != 202 || erasure["status"] != "done" || erasure["profile_id"] != profileID {
		t.Fatalf("erase: %d %v", code, erasure)
	}
	if code, again := api("GET", "/v1/erasures/"+erasure["id"].(string), ""); code != 200 || again["status"] != "done" {
		t.Errorf("erasure record: %d %v", code, again)
	}
	for _, ref := range []string{"user_id:usr-zq-48151623", "anonymous_id:anon-zq-42424242", "email:zelda.quixote@example.org", "id:" + profileID} {
		if code, _ := api("GET", "/v1/profiles/"+ref, ""); code != 404 {
			t.Errorf("profile %s after erasure: %d, want 404", ref, code)
		}
	}
	if _, im := api("GET", "/v1/imports/"+imp["id"].(string), ""); im["file"] != "(erased)" || im["sample"] != nil || im["rows"] != 1.0 {
		t.Errorf("the import record still names her: %v", im)
	}
	var deleted []any
	waitUntil(t, "profile.deleted at the destination", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range received {
			if m["type"] == "profile.deleted" {
				p := m["profile"].(map[string]any)
				deleted, _ = p["identities"].([]any)
				return p["id"] == profileID && len(deleted) == 4
			}
		}
		return false
	})
	// The identifiers are hashed with the workspace's deletion key, which receivers fetch to
	// hash their own; without it the hashes cannot be matched (an unkeyed SHA-256 of a phone
	// number can be found by trying them all).
	_, dk := api("GET", "/v1/privacy/deletion-key", "")
	key, _ := hex.DecodeString(fmt.Sprint(dk["key"]))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("zelda.quixote@example.org"))
	want, unkeyed := hex.EncodeToString(mac.Sum(nil)), sha256.Sum256([]byte("zelda.quixote@example.org"))
	var matched bool
	for _, it := range deleted {
		m := it.(map[string]any)
		matched = matched || (m["kind"] == "email" && m["hmac_sha256"] == want)
		if strings.Contains(fmt.Sprint(m), hex.EncodeToString(unkeyed[:])) {
			t.Errorf("profile.deleted carries an unkeyed SHA-256: %v", m)
		}
	}
	if len(key) != 32 || !matched {
		t.Errorf("no email hash under the deletion key %v in %v", dk, deleted)
	}
	_, audit := api("GET", "/v1/audit?action="+strings.ReplaceAll("DELETE /v1/profiles/{ref}", " ", "%20"), "")
	if entries, _ := audit["entries"].([]any); len(entries) != 1 {
		t.Errorf("audit entries of the erasure: %v", audit)
	}

	// A new event with the erased email, from a new device, goes on without it.
	send(`{"batch":[{"type":"identify","anonymousId":"anon-new-device","traits":{"email":"zelda.quixote@example.org"},"messageId":"z9"},
		{"type":"identify","userId":"usr-bob-99","traits":{"seats":3},"messageId":"b2"}]}`)
	waitUntil(t, "bob's update", func() bool {
		_, p := api("GET", "/v1/profiles/user_id:usr-bob-99", "")
		traits, _ := p["traits"].(map[string]any)
		return traits["seats"] == 3.0
	})
	if code, _ := api("GET", "/v1/profiles/email:zelda.quixote@example.org", ""); code != 404 {
		t.Errorf("a suppressed email made a profile again: %d", code)
	}

	scan("after erasure")

	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	if code, out, stderr := runCLI(t, "replay", "--data", data, "--log-level", "warn"); code != 0 {
		t.Fatalf("replay: %d %q %q", code, out, stderr)
	}
	scan("after replay")
	s = startServer(t, data)
	api = adminAPI(t, s.url, creds.AdminToken)
	if code, _ := api("GET", "/v1/profiles/user_id:usr-zq-48151623", ""); code != 404 {
		t.Errorf("replay brought the erased person back: %d", code)
	}
	if code, _ := api("GET", "/v1/profiles/user_id:usr-bob-99", ""); code != 200 {
		t.Errorf("bob after replay: %d", code)
	}
}
