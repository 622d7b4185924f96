package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyHook answers with a settable status and records the idempotency keys it accepted.
type flakyHook struct {
	mu     sync.Mutex
	status int
	keys   []string
}

func (h *flakyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == 200 {
		h.keys = append(h.keys, r.Header.Get("Idempotency-Key"))
	}
	w.WriteHeader(h.status)
}

func (h *flakyHook) set(status int) {
	h.mu.Lock()
	h.status = status
	h.mu.Unlock()
}

func (h *flakyHook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.keys...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 20s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestDeliveriesAcrossRestart: deliveries that failed while the receiver was down survive a
// restart of Kenner and arrive once it is back; dead letters are listed and replayed with
// the kenner deliveries CLI, remotely and on the data directory.
func TestDeliveriesAcrossRestart(t *testing.T) {
	hook := &flakyHook{status: 503}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	data := t.TempDir()
	s := startServer(t, data, "--delivery-backoff-max", "1s")
	creds := credentialsOf(t, data)
	api := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+creds.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s %v", method, path, resp.Status, out)
		}
		return out
	}
	api("POST", "/v1/destinations", fmt.Sprintf(`{"name":"hook","type":"webhook","config":{"url":%q},"subscribe":{"events":true}}`, rcv.URL))
	track := func(url, id string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/v1/track", strings.NewReader(`{"userId":"u1","event":"E","messageId":"`+id+`"}`))
		req.SetBasicAuth(creds.WriteKey, "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("track: %v", err)
		}
		resp.Body.Close()
	}
	track(s.url, "m1")
	track(s.url, "m2")
	waitUntil(t, "retries", func() bool {
		code, out, _ := runCLI(t, "deliveries", "list", "hook", "--url", s.url, "--token", creds.AdminToken)
		return code == 0 && strings.Count(out, "pending") == 2 && strings.Contains(out, "503")
	})

	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, s.logs)
	}
	hook.set(200)
	s = startServer(t, data, "--delivery-backoff-max", "1s")
	waitUntil(t, "delivery after restart", func() bool { return len(hook.got()) == 2 })
	if got := hook.got(); got[0] != "m1" || got[1] != "m2" {
		t.Errorf("received %v, want m1 then m2", got)
	}

	hook.set(422) // refused for good: a dead letter at once
	track(s.url, "m3")
	waitUntil(t, "dead letter", func() bool {
		code, out, _ := runCLI(t, "deliveries", "list", "hook", "--status", "dead", "--url", s.url, "--token", creds.AdminToken)
		return code == 0 && strings.Contains(out, "m3")
	})
	hook.set(200)
	code, out, stderr := runCLI(t, "deliveries", "replay", "hook", "--url", s.url, "--token", creds.AdminToken)
	if code != 0 || strings.TrimSpace(out) != "requeued 1" {
		t.Fatalf("replay: %d %q %q", code, out, stderr)
	}
	waitUntil(t, "replayed delivery", func() bool { return len(hook.got()) == 3 })

	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	code, out, stderr = runCLI(t, "deliveries", "list", "hook", "--status", "delivered", "--data", data)
	if code != 0 || strings.Count(out, "delivered") != 3 {
		t.Errorf("local list: %d %q %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "deliveries", "show", "hook", "1", "--data", data)
	if code != 0 || !strings.Contains(out, `"attempts"`) || !strings.Contains(out, "503") {
		t.Errorf("show: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "deliveries", "list", "hook", "--status", "lost", "--data", data); code != 2 {
		t.Errorf("bad --status: exit %d %q, want 2", code, stderr)
	}
}
