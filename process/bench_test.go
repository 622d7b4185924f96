package process_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/internal/benchenv"
	"github.com/kenner-cdp/kenner/postgres"
	"github.com/kenner-cdp/kenner/postgres/pgtest"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/tag"
	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks load KENNER_BENCH_PROFILES people (default 20,000) with
// KENNER_BENCH_EVENTS events (default 200,000) into a store, once per store and run, then
// measure processing more events and looking profiles up. BENCHMARKS.md has the figures at
// 1,000,000 profiles and 10,000,000 events.
func benchSize() (profiles, events int) { return benchenv.Sizes() }

// benchLoad generates events as a web shop sees them: each person browses on one of two
// devices (anonymous id); one event in four carries their user id, one in twenty is an
// identify with email and traits.
type benchLoad struct {
	profiles int
	seq      uint64
	rng      *rand.Rand
}

// anyIdentifier picks a person at random and one of their identifiers: user id, one of the
// two devices' anonymous ids, or email (which people who never sent an identify lack).
func (l *benchLoad) anyIdentifier(rng *rand.Rand) kenner.Identifier {
	p := strconv.Itoa(rng.IntN(l.profiles))
	switch rng.IntN(3) {
	case 0:
		return kenner.Identifier{Kind: kenner.KindUserID, Value: "u-" + p}
	case 1:
		return kenner.Identifier{Kind: kenner.KindAnonymousID, Value: "a-" + p + "-" + strconv.Itoa(rng.IntN(2))}
	default:
		return kenner.Identifier{Kind: kenner.KindEmail, Value: "p" + p + "@example.com"}
	}
}

func (l *benchLoad) records(events, perRecord int) []kenner.LogRecord {
	return l.partition(events, perRecord, 0, 1)
}

// partition generates the events of the people of partition part of parts (person p is in
// partition p % parts), as the log's partitioning by identity hands them to one reader.
func (l *benchLoad) partition(events, perRecord, part, parts int) []kenner.LogRecord {
	var recs []kenner.LogRecord
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for len(recs)*perRecord < events {
		l.seq++
		rec := kenner.LogRecord{Seq: l.seq, WorkspaceID: "ws", SourceID: "src"}
		for range perRecord {
			p := l.rng.IntN(l.profiles/parts)*parts + part
			dev := l.rng.IntN(2)
			at := ts.Add(time.Duration(l.seq) * time.Millisecond).Format(time.RFC3339Nano)
			id := fmt.Sprintf("b-%d-%d", l.seq, len(rec.Events))
			var body string
			switch r := l.rng.IntN(20); {
			case r == 0:
				body = fmt.Sprintf(`{"type":"identify","messageId":%q,"anonymousId":"a-%d-%d","userId":"u-%d","timestamp":%q,"receivedAt":%q,"traits":{"email":"p%d@example.com","name":"Person %d","plan":"p%d"}}`,
					id, p, dev, p, at, at, p, p, l.rng.IntN(3))
			case r < 5:
				body = fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":%q,"anonymousId":"a-%d-%d","userId":"u-%d","timestamp":%q,"receivedAt":%q,"properties":{"total":42.5,"currency":"EUR"}}`,
					id, p, dev, p, at, at)
			default:
				body = fmt.Sprintf(`{"type":"page","name":"Product","messageId":%q,"anonymousId":"a-%d-%d","timestamp":%q,"receivedAt":%q,"properties":{"path":"/p/%d"},"context":{"userAgent":"Mozilla/5.0","ip":"203.0.113.7"}}`,
					id, p, dev, at, at, l.rng.IntN(1000))
			}
			rec.Events = append(rec.Events, []byte(body))
		}
		recs = append(recs, rec)
	}
	return recs
}

type loadedStore struct {
	store kenner.Store
	proc  *process.Processor
	load  *benchLoad
	// size reports the store's bytes on disk: the SQLite files, or PostgreSQL's tables and
	// indexes in the benchmark's schema.
	size func() (int64, error)
	keep string // the kept store's file (KENNER_BENCH_KEEP), whose log position is saved on close
}

var (
	// newSegments numbers the segments segment-build-new creates, across its runs.
	newSegments atomic.Int64
	benchMu     sync.Mutex
	benchStores = map[string]*loadedStore{}
)

// loaded returns the named store with the benchmark's data in it, loading it on first use.
func loaded(b *testing.B, name string) *loadedStore {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s, ok := benchStores[name]; ok {
		return s
	}
	var store kenner.Store
	var err error
	var size func() (int64, error)
	profiles, events := benchSize()
	kept := "" // the file of a loaded store kept between runs
	switch name {
	case "sqlite":
		dir := b.TempDir()
		// KENNER_BENCH_KEEP names a directory where the loaded store stays for the next run
		// of the same size: a full-size load takes a quarter of an hour.
		if keep := benchenv.KeepDir(); keep != "" {
			dir = keep
			kept = filepath.Join(dir, fmt.Sprintf("k-%d-%d.db", profiles, events))
		}
		size = func() (int64, error) { return dirSize(dir) }
		path := filepath.Join(dir, "k.db")
		if kept != "" {
			path = kept
		}
		store, err = sqlite.Open(b.Context(), path)
	case "sqlite-encrypted":
		dir := b.TempDir()
		size = func() (int64, error) { return dirSize(dir) }
		if store, err = sqlite.Open(b.Context(), filepath.Join(dir, "k.db")); err == nil {
			var c *privacy.FieldCipher
			c, err = privacy.OpenFieldCipher(b.Context(), store, make([]byte, 32), nil)
			store = privacy.NewSealedStore(store, c)
		}
	case "postgres":
		if os.Getenv("KENNER_TEST_POSTGRES") == "" {
			b.Skip("KENNER_TEST_POSTGRES is not set")
		}
		// pgtest drops the schema when b ends: b is the store's top-level benchmark.
		url := pgtest.Schema(b, pgtest.URL(b))
		size = func() (int64, error) { return schemaSize(b.Context(), url) }
		store, err = postgres.Open(b.Context(), url)
	}
	if err != nil {
		b.Fatal(err)
	}
	s := &loadedStore{store: store, load: &benchLoad{profiles: profiles, rng: rand.New(rand.NewPCG(1, 2))},
		proc: process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)), size: size}
	if kept != "" {
		// The log position the last run left is kept beside the store, so that new events
		// are new to it.
		if seq, err := os.ReadFile(kept + ".seq"); err == nil {
			if s.load.seq, err = strconv.ParseUint(strings.TrimSpace(string(seq)), 10, 64); err != nil {
				b.Fatal(err)
			}
			s.load.rng = rand.New(rand.NewPCG(s.load.seq, 2))
			s.keep = kept
			if segs, err := store.Segments(b.Context(), "ws"); err == nil && len(segs) > 0 {
				segmentsDefined.Store(store, true)
			}
			bytes, _ := s.size()
			fmt.Fprintf(os.Stderr, "%s: reusing the store kept at %s (%d MiB)\n", name, kept, bytes>>20)
			benchStores[name] = s
			return s
		}
	}
	if err := store.CreateWorkspace(b.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	// Generated and applied a million events at a time: ten million bodies at once would
	// hold gigabytes.
	for done := 0; done < events; {
		n := min(1_000_000, events-done)
		recs := s.load.records(n, 100)
		for i := 0; i < len(recs); i += 10 {
			if err := s.proc.Apply(b.Context(), 0, recs[i:min(i+10, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		done += n
		if events > 1_000_000 {
			fmt.Fprintf(os.Stderr, "%s: loaded %d of %d events in %s\n", name, done, events, time.Since(start).Round(time.Second))
		}
	}
	took := time.Since(start)
	bytes, err := s.size()
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	// Printed, not logged: a full-size load takes long enough that its figures should not
	// depend on the benchmark's verbosity.
	fmt.Fprintf(os.Stderr, "%s: loaded %d events for %d people in %s (%.0f events/s); on disk %d MiB; %s\n",
		name, events, profiles, took.Round(time.Second), float64(events)/took.Seconds(), bytes>>20, memoryUse())
	if s.keep = kept; kept != "" {
		s.saveSeq(b)
	}
	benchStores[name] = s
	return s
}

// saveSeq records the log position of a kept store (KENNER_BENCH_KEEP).
func (s *loadedStore) saveSeq(b *testing.B) {
	if err := os.WriteFile(s.keep+".seq", []byte(strconv.FormatUint(s.load.seq, 10)), 0o644); err != nil {
		b.Error(err)
	}
}

// memoryUse reads the process's resident set now and at its peak from /proc (Linux only;
// elsewhere it says so).
func memoryUse() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "RSS unknown on this system"
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	// RssFile is mostly the SQLite file mapped into memory (mmap_size): pages the kernel can
	// drop; RssAnon is the process's own memory.
	return fmt.Sprintf("RSS %s (peak %s; anonymous %s, file-backed %s)", fields["VmRSS"], fields["VmHWM"], fields["RssAnon"], fields["RssFile"])
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// schemaSize sums the tables, indexes and TOAST of the schema the URL's search_path names.
func schemaSize(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'm')`).Scan(&n)
	return n, err
}

// BenchmarkSQLite and BenchmarkPostgres load the store once, then run "process" (sustained
// processing: identity resolution, profile fold, event insert, in batches of 10 records of 100
// events as the log hands them over) and "lookup" (GET-profile's store work by user id, anonymous id or email from 8
// goroutines, with latency percentiles).
func BenchmarkSQLite(b *testing.B) { benchStore(b, "sqlite") }

// BenchmarkSQLiteEncrypted is BenchmarkSQLite with personal data encrypted at rest (what
// kenner serve runs).
func BenchmarkSQLiteEncrypted(b *testing.B) { benchStore(b, "sqlite-encrypted") }

// BenchmarkPostgres: see BenchmarkSQLite.
func BenchmarkPostgres(b *testing.B) { benchStore(b, "postgres") }

func benchStore(b *testing.B, name string) {
	s := loaded(b, name)
	defer func() {
		benchMu.Lock()
		delete(benchStores, name)
		benchMu.Unlock()
		if s.keep != "" {
			s.saveSeq(b)
		}
		s.store.Close()
	}()
	b.Run("process", func(b *testing.B) { benchProcess(b, s) })
	b.Run("process-4-partitions", func(b *testing.B) { benchPartitions(b, s, 4) })
	// The segment benchmarks define computed traits and segments over the loaded store: the
	// build (every profile recomputed from its events), a preview over every profile, and
	// processing with the definitions in place.
	b.Run("segment-build", func(b *testing.B) {
		ctx := b.Context()
		for range b.N {
			defineSegments(b, s.store)
			start := time.Now()
			builder := process.NewBuilder(s.proc, s.store, time.Hour, slog.New(slog.DiscardHandler))
			if err := builder.Build(ctx, "ws"); err != nil {
				b.Fatal(err)
			}
			n, _ := s.store.CountProfiles(ctx, "ws")
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "profiles/s")
		}
	})
	// segment-build-new creates a segment over traits, computed traits and event functions
	// the store already keeps, then builds it: every profile is evaluated and only those that
	// enter are written (the "new segment backfilled"). Each new segment is deleted
	// again, and the build that drops its memberships runs untimed, so that every timed build
	// starts from the same store (one with the definitions of defineSegments).
	b.Run("segment-build-new", func(b *testing.B) {
		ctx := b.Context()
		builder := process.NewBuilder(s.proc, s.store, time.Hour, slog.New(slog.DiscardHandler))
		if _, done := segmentsDefined.Load(s.store); !done {
			defineSegments(b, s.store)
		}
		dropNew := func() {
			segs, err := s.store.Segments(ctx, "ws")
			if err != nil {
				b.Fatal(err)
			}
			for _, sg := range segs {
				if strings.HasPrefix(sg.Name, "new") {
					if err := s.store.DeleteSegment(ctx, "ws", sg.ID); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := builder.Build(ctx, "ws"); err != nil {
				b.Fatal(err)
			}
		}
		dropNew() // those of an earlier run on a kept store; then the definitions so far
		// At most 3 builds, whatever b.N: the full-size run passes -benchtime 100000x for the
		// processing benchmarks, and each build here is a pass over every profile.
		b.ResetTimer()
		var took, worst time.Duration
		var members int64
		builds := min(b.N, 3)
		for range builds {
			b.StopTimer()
			i := newSegments.Add(1)
			cond := fmt.Sprintf(`has(traits.plan) && traits.plan == "p%d" && (computed.revenue > 50.0 || events.count("Order Completed", duration("720h")) >= 2)`, i%3)
			seg := &kenner.Segment{WorkspaceID: "ws", Name: fmt.Sprint("new", i), Condition: cond}
			if err := s.store.CreateSegment(ctx, seg); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			if err := builder.Build(ctx, "ws"); err != nil {
				b.Fatal(err)
			}
			t := time.Since(start)
			b.StopTimer()
			took, worst = took+t, max(worst, t)
			// Every member entering is a profile written: the part of a build that does not
			// spread over cores.
			got, err := s.store.Segment(ctx, "ws", seg.ID)
			if err != nil {
				b.Fatal(err)
			}
			members += got.Members
			dropNew()
		}
		n, _ := s.store.CountProfiles(ctx, "ws")
		per := took / time.Duration(builds)
		b.ReportMetric(float64(n)/per.Seconds(), "profiles/s")
		b.ReportMetric(per.Seconds(), "s/build")
		b.ReportMetric(worst.Seconds(), "s/worst-build")
		b.ReportMetric(float64(members)/float64(builds), "members")
		b.ReportMetric(0, "ns/op")
	})
	// preview evaluates at most 100,000 profiles (the size), so that s/preview is the
	// time of a preview of that many when the store holds more.
	b.Run("preview", func(b *testing.B) {
		if _, done := segmentsDefined.Load(s.store); !done {
			defineSegments(b, s.store)
		}
		b.ResetTimer()
		for range min(b.N, 3) { // see segment-build-new
			p, err := s.proc.Preview(b.Context(), "ws", kenner.Segment{Condition: `has(traits.plan) && traits.plan == "p1" && computed.orders_30d >= 1`}, 100_000, 10)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(p.Evaluated), "profiles")
			b.ReportMetric(float64(p.Evaluated)/p.Took.Seconds(), "profiles/s")
			b.ReportMetric(p.Took.Seconds(), "s/preview")
		}
		b.ReportMetric(0, "ns/op")
	})
	b.Run("process-segments", func(b *testing.B) {
		if _, done := segmentsDefined.Load(s.store); !done {
			defineSegments(b, s.store)
		}
		benchProcess(b, s)
	})
	// lookup-1000rps asks for profiles at 1,000 requests/s from 8 goroutines, each request at
	// its scheduled time, and measures latency from that time (so a slow request that delays
	// the next ones counts against them too).
	b.Run("lookup-1000rps", func(b *testing.B) {
		paced(b, 1000, 8, 9, func(rng *rand.Rand) error {
			_, err := s.store.Profile(b.Context(), "ws", s.load.anyIdentifier(rng))
			if kenner.ErrorCode(err) == kenner.ENotFound {
				return nil
			}
			return err
		})
	})
	// decide-2000rps asks the personalization decision API (HTTP, through tag.Handler) at
	// 2,000 requests/s from 16 goroutines for visitors named by user or anonymous id, with a
	// slot of three variants over segments and traits; latency counts from each request's
	// scheduled time, as in lookup-1000rps.
	b.Run("decide-2000rps", func(b *testing.B) { benchDecide(b, s, 2000) })
	b.Run("decide-1000rps", func(b *testing.B) { benchDecide(b, s, 1000) })
	b.Run("lookup", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(4) // 8 goroutines on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 7))
			var mine []time.Duration
			for pb.Next() {
				ref := s.load.anyIdentifier(rng)
				t0 := time.Now()
				_, err := s.store.Profile(b.Context(), "ws", ref)
				mine = append(mine, time.Since(t0))
				if err != nil && kenner.ErrorCode(err) != kenner.ENotFound {
					b.Error(err)
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		slices.Sort(lat)
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		}
	})
}

var segmentsDefined sync.Map

// defineSegments adds three computed traits and four segments to the store (once per store).
func defineSegments(b *testing.B, store kenner.Store) {
	if _, done := segmentsDefined.LoadOrStore(store, true); done {
		// Edit a condition so that the build has work again.
		segs, _ := store.Segments(b.Context(), "ws")
		for _, sg := range segs {
			sg.Condition += " || false"
			if err := store.UpdateSegment(b.Context(), &sg); err != nil {
				b.Fatal(err)
			}
			return
		}
	}
	ctx := b.Context()
	for _, t := range []kenner.ComputedTrait{
		{Name: "orders_30d", Func: kenner.FuncCount, Event: "Order Completed", Window: kenner.Duration(720 * time.Hour)},
		{Name: "revenue", Func: kenner.FuncSum, Event: "Order Completed", Property: "properties.total"},
		{Name: "last_path", Func: kenner.FuncLast, Event: "$page", Property: "properties.path"},
	} {
		t.WorkspaceID = "ws"
		if err := store.PutComputedTrait(ctx, &t); err != nil {
			b.Fatal(err)
		}
	}
	for i, cond := range []string{
		`events.count("Order Completed", duration("720h")) >= 2`,
		`has(traits.plan) && traits.plan == "p2"`,
		`computed.revenue > 100.0`,
		`events.exists("$page", duration("24h"), e, e.properties.path == "/p/7")`,
	} {
		if err := store.CreateSegment(ctx, &kenner.Segment{WorkspaceID: "ws", Name: fmt.Sprint("s", i), Condition: cond}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchProcess applies b.N new events in batches of 10 records of 100 events, as the log
// hands them over, and reports the rate.
func benchProcess(b *testing.B, s *loadedStore) {
	recs := s.load.records(b.N, 100)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(recs); i += 10 {
		if err := s.proc.Apply(b.Context(), 0, recs[i:min(i+10, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*100)/time.Since(start).Seconds(), "events/s")
}

// benchPartitions applies b.N new events read from parts partitions at once, one goroutine
// per partition as Processor.Run reads them (on SQLite they share group commits; on
// PostgreSQL they are concurrent transactions), and reports the rate.
func benchPartitions(b *testing.B, s *loadedStore, parts int) {
	recs := make([][]kenner.LogRecord, parts)
	for part := range parts {
		recs[part] = s.load.partition(b.N/parts, 100, part, parts)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var n atomic.Int64
	for part := range parts {
		wg.Go(func() {
			rs := recs[part]
			for i := 0; i < len(rs); i += 10 {
				if err := s.proc.Apply(b.Context(), part, rs[i:min(i+10, len(rs))]); err != nil {
					b.Error(err)
					return
				}
			}
			n.Add(int64(len(rs) * 100))
		})
	}
	wg.Wait()
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}

// benchSource answers every write key with the benchmark's source.
type benchSource struct{}

func (benchSource) Source(context.Context, string) (*kenner.Source, error) {
	return &kenner.Source{ID: "src", WorkspaceID: "ws", Name: "web"}, nil
}

func benchDecide(b *testing.B, s *loadedStore, rate int) {
	ctx := b.Context()
	if _, done := segmentsDefined.Load(s.store); !done {
		defineSegments(b, s.store)
	}
	if slots, _ := s.store.Slots(ctx, "ws"); len(slots) == 0 {
		slot := &kenner.Slot{WorkspaceID: "ws", Name: "hero", Holdout: 0.1, Default: json.RawMessage(`{"html":"<h2>Welcome</h2>"}`),
			Variants: []kenner.Variant{
				{Name: "buyers", Condition: `segment("s0") || segment("s2")`, Content: json.RawMessage(`{"html":"<h2>Thanks, {{ traits.plan | friend }}</h2>"}`), Priority: 2},
				{Name: "p2", Condition: `has(traits.plan) && traits.plan == "p2"`, Content: json.RawMessage(`{"html":"<h2>Plan 2</h2>"}`), Priority: 1},
				{Name: "p1", Condition: `has(traits.plan) && traits.plan == "p1"`, Content: json.RawMessage(`{"text":"p1"}`)}}}
		if err := s.store.CreateSlot(ctx, slot); err != nil {
			b.Fatal(err)
		}
	}
	// kenner serve collects garbage at 200 % heap growth under its memory limit (gcPercent in
	// cmd/kenner): measure under the same setting.
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	dec := tag.NewDecider(s.store, s.proc, s.store, nil)
	h := tag.New(benchSource{}, dec, identity.Normalizer{}, slog.New(slog.DiscardHandler), tag.Config{})
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const workers = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var variants sync.Map
	b.ResetTimer()
	paced(b, rate, 16, 11, func(rng *rand.Rand) error {
		ref := s.load.anyIdentifier(rng)
		q := "anonymousId="
		if ref.Kind == kenner.KindUserID {
			q = "userId="
		} else if ref.Kind != kenner.KindAnonymousID {
			ref.Value = "a-" + strings.TrimSuffix(strings.TrimPrefix(ref.Value, "p"), "@example.com") + "-0"
		}
		resp, err := client.Get(srv.URL + "/v1/personalize?writeKey=k&" + q + url.QueryEscape(ref.Value))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ans tag.Answer
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("decision: %d %v", resp.StatusCode, err)
		}
		n, _ := variants.LoadOrStore(ans.Decisions["hero"].Variant, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return nil
	})
	variants.Range(func(k, v any) bool {
		b.Logf("variant %v: %d", k, v.(*atomic.Int64).Load())
		return true
	})
}

// paced calls do b.N times at rate calls/s from workers goroutines, each call at its scheduled
// time, and reports latency from that time (so a slow call that delays the next ones counts
// against them too): p50, p99 and the rate reached.
func paced(b *testing.B, rate, workers int, seed uint64, do func(rng *rand.Rand) error) {
	lat := make([]time.Duration, b.N)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), seed))
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(due))
				err := do(rng)
				lat[i] = time.Since(due)
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(b.N)/took.Seconds(), "req/s")
}
