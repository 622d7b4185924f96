package console_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/console"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/server"
	"github.com/kenner-cdp/kenner/sqlite"
)

// BenchmarkPages renders each console page as a signed-in owner and reports the server time
// of a render (p50, p99, max). KENNER_BENCH_STORE names a store to run on (the process
// benchmarks keep their 1M-profile store with KENNER_BENCH_KEEP; its workspace is ws);
// without it, a small store is made here.
func BenchmarkPages(b *testing.B) {
	ctx := b.Context()
	logger := slog.New(slog.DiscardHandler)
	path := os.Getenv("KENNER_BENCH_STORE")
	fresh := path == ""
	if fresh {
		path = filepath.Join(b.TempDir(), "k.db")
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	log, err := nats.Open(ctx, nats.Options{Dir: b.TempDir(), Partitions: 2}, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	const ws = "ws"
	proc := process.New(log, store, process.DefaultConfig(), prometheus.NewRegistry(), logger)
	if fresh {
		if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: ws, Name: ws}); err != nil {
			b.Fatal(err)
		}
		var rec kenner.LogRecord
		for i := range 2000 {
			rec.Events = append(rec.Events, []byte(fmt.Sprintf(`{"type":"identify","messageId":"m%d","userId":"u-%d","anonymousId":"a-%d-0","timestamp":"2026-12-01T00:00:00Z","receivedAt":"2026-12-01T00:00:00Z","traits":{"email":"p%d@example.com","plan":"p%d"}}`, i, i, i, i, i%3)))
		}
		rec.WorkspaceID, rec.SourceID, rec.Seq = ws, "src", 1
		if err := proc.Apply(ctx, 0, []kenner.LogRecord{rec}); err != nil {
			b.Fatal(err)
		}
	}
	hasher := auth.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	creds := auth.NewService(store, hasher)
	users := auth.NewUsers(store, hasher)
	email := fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano())
	if _, _, err := users.Create(ctx, ws, email, "Bench", kenner.RoleOwner, "benchmark-password-1"); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	api := server.New(server.Deps{Store: store, Log: log, Creds: creds, Registry: reg, Logger: logger,
		Ingest: ingest.New(log, creds, ingest.NewMetrics(reg), logger, ingest.Config{}), Consumer: process.ConsumerName,
		Splitter: proc, Audience: proc, Users: users})
	cons, err := console.New(api, users, logger, console.Options{LoginRate: 1000})
	if err != nil {
		b.Fatal(err)
	}
	api.Mount("/console/", cons)
	srv := httptest.NewServer(api)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.PostForm(srv.URL+"/console/login", url.Values{"email": {email}, "password": {"benchmark-password-1"}})
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("sign in: %v %v", resp, err)
	}
	resp.Body.Close()

	segs, _ := store.Segments(ctx, ws)
	pages := []string{"/console/", "/console/profiles?q=user_id:u-12345", "/console/profiles?q=email:p777@example.com",
		"/console/segments", "/console/segments/new", "/console/computed-traits", "/console/destinations", "/console/events",
		"/console/sources", "/console/personalization", "/console/privacy", "/console/settings", "/console/account",
		"/console/predictions", "/console/journeys", "/console/matching", "/console/analytics?tab=dashboard",
		"/console/analytics?tab=trends", "/console/analytics?tab=revenue", "/console/catalog", "/console/catalog/webhook-hubspot",
		"/console/syncs", "/console/destinations/new?type=hubspot"}
	if len(segs) > 0 {
		pages = append(pages, "/console/segments/"+segs[0].ID)
	}
	for _, p := range pages {
		name := strings.Trim(strings.NewReplacer("/console/", "", "?q=", "-", ":", "-", "@", "-").Replace(p), "/")
		if name == "" {
			name = "overview"
		}
		b.Run(name, func(b *testing.B) {
			var took []time.Duration
			for range b.N {
				start := time.Now()
				resp, err := client.Get(srv.URL + p)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				took = append(took, time.Since(start))
				if resp.StatusCode != 200 || !strings.Contains(string(body), "<h1") {
					b.Fatalf("%s: %d\n%.500s", p, resp.StatusCode, body)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
		})
	}
}
