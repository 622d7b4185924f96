package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/prometheus/client_golang/prometheus"
)

const writeKey = "wk_test"

// sources resolves the one test write key; credentials hashing is tested in package auth.
type sources struct{}

func (sources) Source(_ context.Context, key string) (*kenner.Source, error) {
	if key == writeKey {
		return &kenner.Source{ID: "src_test", WorkspaceID: "ws_test", Name: "test"}, nil
	}
	if key == "" {
		return nil, kenner.Errorf(kenner.EUnauthorized, "missing write key")
	}
	return nil, kenner.Errorf(kenner.EUnauthorized, "invalid write key")
}

func openLog(t testing.TB) *nats.Log {
	t.Helper()
	l, err := nats.Open(context.Background(), nats.Options{Dir: t.TempDir(), Partitions: 4}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newServer(t testing.TB, cfg ingest.Config) (*httptest.Server, *nats.Log) {
	t.Helper()
	l := openLog(t)
	h := ingest.New(l, sources{}, ingest.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), cfg)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, l
}

type reply struct {
	status int
	header http.Header
	code   string
	body   string
}

func post(t testing.TB, srv *httptest.Server, path, body string, mutate ...func(*http.Request)) reply {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth(writeKey, "")
	for _, m := range mutate {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	return reply{status: resp.StatusCode, header: resp.Header, code: e.Error.Code, body: string(b)}
}

// logged reads every event in the log.
func logged(t *testing.T, l *nats.Log) []jsonobj.Object {
	t.Helper()
	heads, err := l.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []jsonobj.Object
	for p, head := range heads {
		if head == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		l.Read(ctx, p, 0, func(ctx context.Context, recs []kenner.LogRecord) error {
			for _, r := range recs {
				if r.WorkspaceID != "ws_test" || r.SourceID != "src_test" {
					t.Errorf("record %d: workspace %q source %q", r.Seq, r.WorkspaceID, r.SourceID)
				}
				for _, e := range r.Events {
					m, err := jsonobj.Parse(e)
					if err != nil {
						t.Fatalf("bad event in log: %s", e)
					}
					out = append(out, m)
				}
				if r.Seq >= head {
					cancel()
				}
			}
			return nil
		})
		cancel()
	}
	return out
}

func TestTrackingEndpoints(t *testing.T) {
	srv, l := newServer(t, ingest.Config{})
	payload := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "payloads", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	noAuth := func(r *http.Request) { r.Header.Del("Authorization") }
	// analytics.js sends text/plain to avoid a CORS preflight.
	textPlain := func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }
	tests := []struct {
		name   string
		path   string
		body   string
		mutate []func(*http.Request)
		status int
		code   string
		events int // events this request adds to the log
	}{
		{"identify", "/v1/identify", `{"userId":"u1","traits":{"email":"a@b.c"}}`, nil, 200, "", 1},
		{"track", "/v1/track", `{"userId":"u1","event":"Order Completed"}`, nil, 200, "", 1},
		{"page", "/v1/page", `{"anonymousId":"a1","name":"Home"}`, nil, 200, "", 1},
		{"screen", "/v1/screen", `{"anonymousId":"a1","name":"Home"}`, nil, 200, "", 1},
		{"group", "/v1/group", `{"userId":"u1","groupId":"g1"}`, nil, 200, "", 1},
		{"alias", "/v1/alias", `{"userId":"u1","previousId":"a1"}`, nil, 200, "", 1},
		{"analytics-node batch", "/v1/batch", payload("analytics-node-batch.json"), nil, 200, "", 2},
		{"rudderstack batch", "/v1/batch", payload("rudder-node-batch.json"), nil, 200, "", 3},
		{"analytics.js write key in body", "/v1/page", payload("analytics-js-page.json"), []func(*http.Request){noAuth}, 200, "", 1},
		{"analytics.js short track path", "/v1/t", `{"userId":"u1","event":"Short","writeKey":"WRITE_KEY"}`, []func(*http.Request){noAuth, textPlain}, 200, "", 1},
		{"analytics.js batching path", "/v1/b", `{"writeKey":"WRITE_KEY","batch":[{"type":"page","anonymousId":"a"}],"sentAt":"2026-11-24T10:00:00Z"}`, []func(*http.Request){noAuth, textPlain}, 200, "", 1},
		{"import", "/v1/import", `{"batch":[{"type":"track","userId":"u","event":"Old","timestamp":"2020-01-01T00:00:00Z"}]}`, nil, 200, "", 1},
		{"no write key", "/v1/track", `{"userId":"u1","event":"x"}`, []func(*http.Request){noAuth}, 401, "unauthorized", 0},
		{"bad write key", "/v1/track", `{"userId":"u1","event":"x"}`, []func(*http.Request){func(r *http.Request) { r.SetBasicAuth("nope", "") }}, 401, "unauthorized", 0},
		{"bad write key wins over bad json", "/v1/track", `{"userId":`, []func(*http.Request){func(r *http.Request) { r.SetBasicAuth("nope", "") }}, 401, "unauthorized", 0},
		{"bad json", "/v1/track", `{"userId":`, nil, 400, "invalid", 0},
		{"empty body", "/v1/track", ``, nil, 400, "invalid", 0},
		{"missing ids", "/v1/track", `{"event":"x"}`, nil, 400, "invalid", 0},
		{"empty batch", "/v1/batch", `{"batch":[]}`, nil, 400, "invalid", 0},
		{"batch is all or nothing", "/v1/batch", `{"batch":[{"type":"track","userId":"u","event":"ok"},{"type":"nope","userId":"u"}]}`, nil, 400, "invalid", 0},
		{"event over 32 KB", "/v1/track", `{"userId":"u","event":"x","properties":{"p":"` + strings.Repeat("x", 33<<10) + `"}}`, nil, 400, "invalid", 0},
		{"request over 500 KB", "/v1/batch", `{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"x","properties":{"p":"`+strings.Repeat("x", 20<<10)+`"}},`, 30) + `{}]}`, nil, 413, "too_large", 0},
		{"unknown encoding", "/v1/track", `{"userId":"u","event":"x"}`, []func(*http.Request){func(r *http.Request) { r.Header.Set("Content-Encoding", "br") }}, 400, "invalid", 0},
	}
	want := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.ReplaceAll(tc.body, "WRITE_KEY", writeKey)
			got := post(t, srv, tc.path, body, tc.mutate...)
			if got.status != tc.status || got.code != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", got.status, got.code, tc.status, tc.code, got.body)
			}
			if tc.status == 200 && got.body != "{\"success\":true}\n" {
				t.Errorf("body = %q", got.body)
			}
			if tc.status != 200 && !strings.Contains(got.body, `"message"`) {
				t.Errorf("error without message: %s", got.body)
			}
			want += tc.events
		})
	}
	events := logged(t, l)
	if len(events) != want {
		t.Errorf("log holds %d events, want %d", len(events), want)
	}
	for _, e := range events {
		if e.Has("writeKey") || !e.Has("receivedAt") || !e.Has("messageId") || !e.Has("timestamp") {
			t.Errorf("event not enriched as expected: %s", e.Encode())
		}
	}
}

func TestGzipAndCORS(t *testing.T) {
	srv, l := newServer(t, ingest.Config{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"batch":[{"type":"track","userId":"u","event":"Zipped","messageId":"z1"}]}`))
	zw.Close()
	got := post(t, srv, "/v1/batch", buf.String(), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") })
	if got.status != 200 {
		t.Fatalf("gzip batch: %d %s", got.status, got.body)
	}
	if got.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header on POST")
	}
	bad := post(t, srv, "/v1/batch", "not gzip at all", func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") })
	if bad.status != 400 {
		t.Errorf("bad gzip: %d %s", bad.status, bad.body)
	}
	events := logged(t, l)
	if len(events) != 1 {
		t.Fatalf("log holds %d events, want 1", len(events))
	}
	if name, _ := events[0].GetString("event"); name != "Zipped" {
		t.Errorf("event = %s", events[0].Encode())
	}

	req, _ := http.NewRequest("OPTIONS", srv.URL+"/v1/track", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRateLimit(t *testing.T) {
	srv, _ := newServer(t, ingest.Config{RateLimit: 1, Burst: 3})
	body := `{"batch":[{"type":"track","userId":"u","event":"a"},{"type":"track","userId":"u","event":"b"}]}`
	if got := post(t, srv, "/v1/batch", body); got.status != 200 {
		t.Fatalf("first request: %d %s", got.status, got.body)
	}
	got := post(t, srv, "/v1/batch", body)
	if got.status != 429 || got.code != "rate_limited" || got.header.Get("Retry-After") == "" || got.header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("over the limit: %d %q Retry-After=%q", got.status, got.code, got.header.Get("Retry-After"))
	}
	big := `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"type":"track","userId":"u","event":"a"},`, 4), ",") + `]}`
	if got := post(t, srv, "/v1/batch", big); got.status != 429 {
		t.Errorf("request larger than the burst: %d", got.status)
	}
}
