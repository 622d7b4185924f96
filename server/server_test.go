package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/builtin"
	"github.com/kenner-cdp/kenner/activation/subject"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/server"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/prometheus/client_golang/prometheus"
)

type stack struct {
	log      *nats.Log
	url      string
	store    kenner.Store
	hasher   *auth.Hasher
	api      *server.Server
	writeKey string
	tokens   map[kenner.Role]string
}

// newStack runs the whole server in-process on real components: SQLite, the embedded log and
// the processor.
// stackConfig is what a test may change in the stack before it starts.
type stackConfig struct {
	deps   server.Deps
	proc   process.Config
	ingest ingest.Config
	act    activation.Config
}

func newStack(t testing.TB, opts ...func(*stackConfig)) *stack {
	t.Helper()
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("KENNER_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := nats.Open(ctx, nats.Options{Dir: t.TempDir(), Partitions: 2}, logger)
	if err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	creds := auth.NewService(store, hasher)
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	_, key, err := creds.CreateSource(ctx, "ws", "web")
	if err != nil {
		t.Fatal(err)
	}
	st := &stack{log: log, writeKey: key, tokens: map[kenner.Role]string{}, store: store, hasher: hasher}
	for _, r := range []kenner.Role{kenner.RoleOwner, kenner.RoleAdmin, kenner.RoleMarketer, kenner.RoleAnalyst, kenner.RoleViewer} {
		_, secret, err := creds.CreateToken(ctx, "ws", string(r), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.tokens[r] = secret
	}
	reg := prometheus.NewRegistry()
	sc := stackConfig{proc: process.DefaultConfig(), act: activation.Config{Senders: builtin.Senders(store, testSenderOptions(log)),
		Poll: 50 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, MaxAttempts: 3}}
	for _, o := range opts {
		o(&sc)
	}
	if sc.ingest.Plans == nil {
		sc.ingest.Plans = trackingplan.NewEnforcer(store, logger)
	}
	tracking := ingest.New(log, creds, ingest.NewMetrics(reg), logger, sc.ingest)
	act := activation.New(store, log, sc.act, reg, logger)
	pcfg := sc.proc
	pcfg.Committed = act.Wake
	proc := process.New(log, store, pcfg, reg, logger)
	builder := process.NewBuilder(proc, store, time.Second, logger)
	deps := sc.deps
	deps.Store, deps.Log, deps.Creds, deps.Ingest, deps.Registry, deps.Logger = store, log, creds, tracking, reg, logger
	deps.Plans = sc.ingest.Plans
	deps.Consumer, deps.Splitter, deps.Audience, deps.Builder, deps.Activation, deps.Guard = process.ConsumerName, proc, proc, builder, act, proc
	deps.Progress = proc
	st.api = server.New(deps)
	srv := httptest.NewServer(st.api)
	st.url = srv.URL
	procCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { proc.Run(procCtx) })
	wg.Go(func() { builder.Run(procCtx) })
	wg.Go(func() { act.Run(procCtx) })
	t.Cleanup(func() {
		srv.Close()
		stop()
		wg.Wait()
		store.Close()
		log.Close()
	})
	return st
}

func (s *stack) do(t testing.TB, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func (s *stack) track(t *testing.T, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/v1/batch", strings.NewReader(body))
	req.SetBasicAuth(s.writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("batch: %s", resp.Status)
	}
}

func messageIDs(out map[string]any) []string {
	var ids []string
	events, _ := out["events"].([]any)
	for _, e := range events {
		ids = append(ids, e.(map[string]any)["messageId"].(string))
	}
	return ids
}

func TestEventsDebugger(t *testing.T) {
	s := newStack(t)
	owner := s.tokens[kenner.RoleOwner]
	var batch []string
	for i := range 7 {
		user := "u1"
		if i%2 == 1 {
			user = "u2"
		}
		batch = append(batch, fmt.Sprintf(`{"type":"track","event":"E%d","userId":%q,"anonymousId":"a%d","messageId":"m%d","properties":{"i":%d}}`, i, user, i, i, i))
	}
	s.track(t, `{"batch":[`+strings.Join(batch, ",")+`]}`)
	// An SDK retry of part of the batch must not create second copies.
	s.track(t, `{"batch":[`+batch[2]+`,`+batch[3]+`]}`)

	// Read-your-writes: the events are listed right after the 200, with no polling.
	code, out := s.do(t, "GET", "/v1/events?limit=1000", owner, "")
	if code != 200 {
		t.Fatalf("GET /v1/events: %d %v", code, out)
	}
	ids := messageIDs(out)
	slices.Sort(ids)
	if want := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6"}; !slices.Equal(ids, want) {
		t.Fatalf("events = %v, want %v (each once)", ids, want)
	}
	first := out["events"].([]any)[0].(map[string]any)
	for _, field := range []string{"seq", "messageId", "type", "event", "userId", "anonymousId", "properties", "context", "timestamp", "receivedAt"} {
		if _, ok := first[field]; !ok {
			t.Errorf("listed event lacks %s: %v", field, first)
		}
	}

	// An anonymous page view on one of u2's devices is part of u2's timeline: the filters go
	// through the identity graph to the person.
	s.track(t, `{"batch":[{"type":"page","anonymousId":"a1","name":"Pricing","messageId":"m7"}]}`)
	tests := []struct {
		query string
		want  int
	}{
		{"user_id=u2", 4},
		{"anonymous_id=a4", 4}, // u1's device: u1's m0, m2, m4, m6
		{"anonymous_id=a1", 4},
		{"message_id=m5", 1},
		{"user_id=nobody", 0},
	}
	for _, tc := range tests {
		_, out := s.do(t, "GET", "/v1/events?"+tc.query, owner, "")
		if got := len(messageIDs(out)); got != tc.want {
			t.Errorf("%s: %d events, want %d", tc.query, got, tc.want)
		}
	}

	// Paging: newest first, nothing lost or repeated.
	var paged []string
	path := "/v1/events?limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		_, out := s.do(t, "GET", path, owner, "")
		paged = append(paged, messageIDs(out)...)
		next, _ := out["next"].(string)
		if next == "" {
			break
		}
		path = "/v1/events?limit=3&after=" + next
	}
	_, all := s.do(t, "GET", "/v1/events", owner, "")
	if want := messageIDs(all); !slices.Equal(paged, want) {
		t.Errorf("paged = %v, want %v (the unpaged order)", paged, want)
	}

	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "after=garbage"} {
		if code, out := s.do(t, "GET", "/v1/events?"+bad, owner, ""); code != 400 {
			t.Errorf("%s: %d %v, want 400", bad, code, out)
		}
	}
}

func TestAdminAuthentication(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no token", "", 401},
		{"wrong scheme", "Basic abc", 401},
		{"unknown token", "Bearer kt_nope", 401},
		{"write key is not a token", "Bearer " + s.writeKey, 401},
		{"owner", "Bearer " + s.tokens[kenner.RoleOwner], 200},
		{"viewer lacks the role", "Bearer " + s.tokens[kenner.RoleViewer], 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.url+"/v1/tokens", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Error struct{ Code, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status >= 400 && (out.Error.Code == "" || out.Error.Message == "") {
				t.Errorf("error body without code and message")
			}
		})
	}
}

// TestRoleMatrix walks every admin route of the router with every role and checks that exactly
// the roles at or above the route's minimum get past authorization.
func TestRoleMatrix(t *testing.T) {
	s := newStack(t)
	// An owner token that expired a minute ago, written to the store directly since the API
	// refuses to create one; and an owner token revoked through the API.
	expired := "kt_expired_owner_token_for_the_matrix"
	past := time.Now().Add(-time.Minute)
	if err := s.store.CreateToken(t.Context(), &kenner.Token{WorkspaceID: "ws", Name: "old", Role: kenner.RoleOwner,
		Hash: s.hasher.Hash("api-token", expired), ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	code, out := s.do(t, "POST", "/v1/tokens", s.tokens[kenner.RoleOwner], `{"role":"owner","name":"to revoke"}`)
	if code != 201 {
		t.Fatalf("create token: %d %v", code, out)
	}
	revoked := out["token"].(string)
	if code, _ := s.do(t, "DELETE", "/v1/tokens/"+out["id"].(string), s.tokens[kenner.RoleOwner], ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	for _, route := range s.api.Routes() {
		method, path, _ := strings.Cut(route.Pattern, " ")
		path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
		for role, token := range s.tokens {
			code, _ := s.do(t, method, path, token, "{}")
			allowed := role.AtLeast(route.MinRole)
			if strings.HasPrefix(path, "/v1/workspaces") || path == "/v1/cluster" {
				allowed = false // the deployment's own only; this workspace is not the deployment's
			}
			if allowed && (code == 401 || code == 403) {
				t.Errorf("%s as %s: %d, want access", route.Pattern, role, code)
			}
			if !allowed && code != 403 {
				t.Errorf("%s as %s: %d, want 403", route.Pattern, role, code)
			}
		}
		for _, tc := range []struct{ what, token, reason string }{
			{"no", "", "missing token"},
			{"a bad", "kt_not_a_token", "invalid token"},
			{"an expired", expired, "expired or revoked"},
			{"a revoked", revoked, "expired or revoked"},
		} {
			code, out := s.do(t, method, path, tc.token, "{}")
			msg, _ := out["error"].(map[string]any)["message"].(string)
			if code != 401 || !strings.Contains(msg, tc.reason) {
				t.Errorf("%s with %s token: %d %q, want 401 saying %q", route.Pattern, tc.what, code, msg, tc.reason)
			}
		}
	}
}

func TestTokensAndSources(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	code, out := s.do(t, "POST", "/v1/tokens", admin, `{"name":"ci","role":"analyst","expires_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	if code != 201 || out["token"] == "" || out["id"] == "" {
		t.Fatalf("create token: %d %v", code, out)
	}
	analyst := out["token"].(string)
	if code, _ := s.do(t, "GET", "/v1/tokens", analyst, ""); code != 403 {
		t.Errorf("analyst listing tokens: %d, want 403", code)
	}
	if code, _ := s.do(t, "POST", "/v1/tokens", admin, `{"role":"owner"}`); code != 403 {
		t.Errorf("admin creating an owner token: %d, want 403", code)
	}
	if code, _ := s.do(t, "POST", "/v1/tokens", admin, `{"role":"wizard"}`); code != 400 {
		t.Errorf("unknown role: %d, want 400", code)
	}
	if code, _ := s.do(t, "POST", "/v1/tokens", admin, `{"role":"viewer","expires_at":"2001-01-01T00:00:00Z"}`); code != 400 {
		t.Errorf("expiry in the past: %d, want 400", code)
	}
	if code, _ := s.do(t, "POST", "/v1/tokens", admin, `{"role":"viewer","colour":"red"}`); code != 400 {
		t.Errorf("unknown field: %d, want 400", code)
	}
	if code, _ := s.do(t, "DELETE", "/v1/tokens/"+out["id"].(string), admin, ""); code != 204 {
		t.Errorf("revoke: %d", code)
	}
	if code, _ := s.do(t, "GET", "/v1/events", analyst, ""); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	if code, _ := s.do(t, "DELETE", "/v1/tokens/tok_nope", admin, ""); code != 404 {
		t.Errorf("revoke unknown: %d, want 404", code)
	}

	code, out = s.do(t, "POST", "/v1/sources", admin, `{"name":"ios"}`)
	if code != 201 || !strings.HasPrefix(fmt.Sprint(out["write_key"]), "wk_") {
		t.Fatalf("create source: %d %v", code, out)
	}
	if code, _ := s.do(t, "POST", "/v1/sources", admin, `{"name":"ios"}`); code != 409 {
		t.Errorf("duplicate source: %d, want 409", code)
	}
	s.writeKey = out["write_key"].(string)
	s.track(t, `{"batch":[{"type":"track","userId":"u","event":"From iOS"}]}`)
	_, out = s.do(t, "GET", "/v1/sources", admin, "")
	if n := len(out["sources"].([]any)); n != 2 {
		t.Errorf("%d sources, want 2", n)
	}
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	s := newStack(t)
	if code, out := s.do(t, "GET", "/healthz", "", ""); code != 200 || out["status"] != "ok" {
		t.Errorf("healthz: %d %v", code, out)
	}
	if code, out := s.do(t, "GET", "/readyz", "", ""); code != 200 || out["status"] != "ready" {
		t.Errorf("readyz: %d %v", code, out)
	}
	s.track(t, `{"batch":[{"type":"track","userId":"u","event":"x"}]}`)
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"kenner_ingest_events_accepted_total 1", "kenner_log_append_seconds_bucket", "kenner_http_request_seconds_bucket", "kenner_processor_lag_seconds_bucket"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestOpenAPICoversRoutes keeps /openapi.json in step with the router: every route is documented
// and every documented path exists.
func TestOpenAPICoversRoutes(t *testing.T) {
	s := newStack(t)
	resp, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var patterns []string
	for _, r := range s.api.Routes() {
		patterns = append(patterns, r.Pattern)
	}
	for p := range ingest.Endpoints {
		patterns = append(patterns, "POST "+p)
	}
	patterns = append(patterns, "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json")
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json does not document %s", p)
		}
	}
}

// testSenderOptions lets destinations reach the tests' loopback receivers and write exports
// under the system's temporary directory (where t.TempDir makes them).
func testSenderOptions(log *nats.Log) builtin.Options {
	return builtin.Options{Egress: egress.MustAllow("127.0.0.0/8", "::1"), ExportRoot: os.TempDir(),
		Subjects: subject.Options{Publish: log.DestinationConn(), Lookup: log.Conn()}}
}
