package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kennerBin is the kenner binary built once for the tests that need a real process.
var kennerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kenner-bin-")
	if err != nil {
		panic(err)
	}
	kennerBin = filepath.Join(dir, "kenner")
	build := exec.Command("go", "build", "-o", kennerBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kenner: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestExitCodes(t *testing.T) {
	data := t.TempDir()
	rows := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(rows, []byte("id\nu1\n"), 0o600)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"serve", "--help"}, 0},
		{[]string{"--no-such-flag"}, 2},
		{[]string{"serve", "--partitions", "many"}, 2},
		{[]string{"serve", "--data", data, "--sync", "sometimes"}, 2},
		{[]string{"serve", "extra-arg"}, 2},
		{[]string{"serve", "--data", data, "--default-region", "Germany"}, 2},
		{[]string{"token", "create", "--data", data}, 2},
		{[]string{"token", "create", "--data", data, "--role", "wizard"}, 2},
		{[]string{"source", "create", "--data", data}, 2},
		{[]string{"source", "create", "--data", data, "a", "b"}, 2},
		{[]string{"token", "list", "--url", "http://127.0.0.1:1"}, 2}, // --url without --token
		{[]string{"bench", "ingest", "--clients", "0"}, 2},
		{[]string{"foo"}, 2},
		{[]string{"import-everything", "--data", data}, 2},
		{[]string{"version"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"version", "extra"}, 2},
		// An import through a server is prepared with the server's settings: flags that would
		// be ignored are refused, and identity flags are not import's at all.
		{[]string{"import", rows, "--as", "identify", "--url", "http://127.0.0.1:1", "--token", "t", "--default-region", "NL"}, 2},
		{[]string{"import", rows, "--as", "identify", "--data", data, "--identity-priority", "email"}, 2},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if strings.Contains(tc.args[0], "version") && code == 0 && !strings.HasPrefix(stdout, "kenner ") {
				t.Errorf("version printed %q", stdout)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr: %s)", code, tc.code, stderr)
			}
			if code == 2 && !strings.HasPrefix(stderr, "kenner: ") {
				t.Errorf("usage error without a message: %q", stderr)
			}
		})
	}
}

func TestLocalAdminCommands(t *testing.T) {
	data := t.TempDir()
	code, out, stderr := runCLI(t, "token", "create", "--role", "analyst", "--name", "bi", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "kt_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: %d %q %q", code, out, stderr)
	}
	// The first use of a data directory bootstrapped it.
	path := filepath.Join(data, "initial-credentials.json")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", info.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	var creds initialCredentials
	if err := json.Unmarshal(first, &creds); err != nil || !strings.HasPrefix(creds.WriteKey, "wk_") || !strings.HasPrefix(creds.AdminToken, "kt_") ||
		creds.ConsoleEmail != "owner@kenner.local" || len(creds.ConsolePassword) < 10 {
		t.Fatalf("credentials file: %s", first)
	}
	code, out, _ = runCLI(t, "source", "create", "ios", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "wk_") {
		t.Fatalf("source create: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "source", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "default") || !strings.Contains(out, "ios") {
		t.Errorf("source list: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "source", "create", "ios", "--data", data); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("duplicate source: %d %q", code, stderr)
	}
	code, out, _ = runCLI(t, "token", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "initial owner") || !strings.Contains(out, "bi") {
		t.Errorf("token list: %d %q", code, out)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Error("initial-credentials.json was rewritten")
	}
}

// child is a kenner serve child process.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	data string
	logs *bytes.Buffer
}

func startServer(t *testing.T, data string, extra ...string) *child {
	t.Helper()
	s := startNode(t, data, nil, extra...)
	if _, err := waitForCredentials(t.Context(), data, s.url); err != nil {
		t.Fatalf("%v\n%s", err, s.logs)
	}
	return s
}

// startNode starts kenner serve with extra environment and waits until it is ready.
func startNode(t *testing.T, data string, env []string, extra ...string) *child {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &child{t: t, data: data, url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}}
	// Test receivers listen on loopback, which destinations refuse unless allowed.
	args := append([]string{"serve", "--data", data, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--destination-allow", "127.0.0.0/8"}, extra...)
	s.cmd = exec.Command(kennerBin, args...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) || s.cmd.ProcessState != nil {
			t.Fatalf("kenner serve did not become ready:\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func credentialsOf(t *testing.T, data string) initialCredentials {
	b, err := os.ReadFile(filepath.Join(data, "initial-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c initialCredentials
	json.Unmarshal(b, &c)
	return c
}

// allMessageIDs pages through /v1/events.
func allMessageIDs(t *testing.T, url, token string) []string {
	var ids []string
	after := ""
	for {
		req, _ := http.NewRequest("GET", url+"/v1/events?limit=1000&after="+after, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Events []struct{ MessageID string }
			Next   string
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		for _, e := range out.Events {
			ids = append(ids, e.MessageID)
		}
		if out.Next == "" {
			return ids
		}
		after = out.Next
	}
}

// TestKillUnderLoad kills the server with SIGKILL while clients send events, restarts it, and
// checks that every acknowledged event is there exactly once.
func TestKillUnderLoad(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range 8 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				var batch []string
				var ids []string
				for i := range 20 {
					id := fmt.Sprintf("c%d-%d-%d", c, n, i)
					ids = append(ids, id)
					batch = append(batch, fmt.Sprintf(`{"type":"track","event":"Load","userId":"u%d","anonymousId":"a%d-%d","messageId":%q}`, c, c, i, id))
				}
				req, _ := http.NewRequest("POST", s.url+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(batch, ",")+`]}`))
				req.SetBasicAuth(creds.WriteKey, "")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				}
			}
		})
	}
	// Kill once a good number of events are in, while requests are in flight.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	stop()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no event was acknowledged before the kill\n%s", s.logs)
	}

	s = startServer(t, data)
	ids := allMessageIDs(t, s.url, creds.AdminToken)
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	lost, dup := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	t.Logf("acknowledged %d events before SIGKILL; %d stored after restart", len(acked), len(ids))
	if lost > 0 || dup > 0 {
		t.Errorf("%d acknowledged events lost, %d stored twice", lost, dup)
	}
}

func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	req, _ := http.NewRequest("POST", s.url+"/v1/track", strings.NewReader(`{"userId":"u","event":"Before Stop","messageId":"last"}`))
	req.SetBasicAuth(creds.WriteKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", err, resp)
	}
	resp.Body.Close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.logs)
	}
	if !strings.Contains(s.logs.String(), "stopped") {
		t.Errorf("no orderly stop in the logs:\n%s", s.logs)
	}
	s = startServer(t, data)
	if ids := allMessageIDs(t, s.url, creds.AdminToken); len(ids) != 1 || ids[0] != "last" {
		t.Errorf("after restart: %v", ids)
	}
}

func TestRemoteAdminAndTail(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	code, out, stderr := runCLI(t, "token", "create", "--role", "viewer", "--url", s.url, "--token", creds.AdminToken)
	if code != 0 || !strings.HasPrefix(out, "kt_") {
		t.Fatalf("remote token create: %d %q %q", code, out, stderr)
	}
	code, _, stderr = runCLI(t, "token", "list", "--url", s.url, "--token", strings.TrimSpace(out))
	if code != 1 || !strings.Contains(stderr, "role") {
		t.Errorf("viewer listing tokens: %d %q", code, stderr)
	}
	req, _ := http.NewRequest("POST", s.url+"/v1/batch", strings.NewReader(`{"batch":[{"type":"identify","userId":"u1","messageId":"t1"},{"type":"track","userId":"u1","event":"Tailed","messageId":"t2"}]}`))
	req.SetBasicAuth(creds.WriteKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %v", err)
	}
	resp.Body.Close()
	code, out, stderr = runCLI(t, "events", "tail", "--follow=false", "-n", "5", "--url", s.url, "--token", creds.AdminToken)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"t1"`) || !strings.Contains(lines[1], `"Tailed"`) {
		t.Errorf("events tail: %d %q %q", code, out, stderr)
	}
}

func TestOneServerPerDataDirectory(t *testing.T) {
	data := t.TempDir()
	startServer(t, data)
	port, _ := freePort()
	code, _, stderr := runCLI(t, "serve", "--data", data, "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	if code != 2 || !strings.Contains(stderr, "in use by process") {
		t.Errorf("second server on one data directory: exit %d, %q", code, stderr)
	}
	// Admin commands may still work on the store beside a running server.
	if code, out, stderr := runCLI(t, "source", "list", "--data", data); code != 0 || !strings.Contains(out, "default") {
		t.Errorf("source list beside a server: %d %q %q", code, out, stderr)
	}
}

// TestReplay rebuilds the store from the log after a server stopped: the event listing is the
// same, and a server holding the directory makes replay refuse.
func TestReplay(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	var batch []string
	for i := range 50 {
		batch = append(batch, fmt.Sprintf(`{"type":"track","event":"E","userId":"u%d","messageId":"r%d"}`, i%7, i))
	}
	req, _ := http.NewRequest("POST", s.url+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(batch, ",")+`]}`))
	req.SetBasicAuth(creds.WriteKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %v %v", err, resp)
	}
	resp.Body.Close()
	before := allMessageIDs(t, s.url, creds.AdminToken)
	if code, _, stderr := runCLI(t, "replay", "--data", data); code != 2 || !strings.Contains(stderr, "in use") {
		t.Errorf("replay beside a running server: %d %q", code, stderr)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()

	code, out, stderr := runCLI(t, "replay", "--data", data, "--log-level", "warn")
	if code != 0 || !strings.Contains(out, "50 events applied") {
		t.Fatalf("replay: %d %q %q", code, out, stderr)
	}
	s = startServer(t, data)
	after := allMessageIDs(t, s.url, creds.AdminToken)
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("listing changed by replay:\nbefore %v\nafter  %v", before, after)
	}
}

// adminAPI returns a caller of the server's admin API with token: it answers the status and
// the decoded JSON body.
func adminAPI(t *testing.T, url, token string) func(method, path, body string) (int, map[string]any) {
	return func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
}

// batchSender returns a function that posts a /v1/batch body with the write key and fails
// the test unless it is accepted.
func batchSender(t *testing.T, url, writeKey string) func(body string) {
	return func(body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth(writeKey, "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("batch: %v %v", err, resp)
		}
		resp.Body.Close()
	}
}
