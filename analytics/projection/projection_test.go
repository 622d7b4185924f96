package projection_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/analytics/projection"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

var day0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(d float64) string {
	return day0.Add(time.Duration(d * float64(24*time.Hour))).Format(time.RFC3339Nano)
}

// world is a real log, store and processor, and a projection following them.
type world struct {
	t     *testing.T
	log   *nats.Log
	store *sqlite.Store
	n     int
}

func newWorld(t *testing.T) *world {
	discard := slog.New(slog.DiscardHandler)
	log, err := nats.Open(t.Context(), nats.Options{Dir: t.TempDir(), Partitions: 2}, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, log: log, store: store}
}

// send appends a message (the fields given, and a message id, a receivedAt) for a person.
func (w *world) send(who, body string) {
	w.t.Helper()
	w.n++
	msg := fmt.Sprintf(`{"messageId":"m%d","receivedAt":%q,%s}`, w.n, at(0), body)
	if err := w.log.Append(w.t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "src", Partition: kenner.PartitionOf(who, 2), Events: [][]byte{[]byte(msg)}}}); err != nil {
		w.t.Fatal(err)
	}
}

// settle applies the log to the store and runs a projection over it, joined to the profiles.
func (w *world) settle() *projection.Projection {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 20*time.Second)
	defer cancel()
	if err := process.New(w.log, w.store, process.DefaultConfig(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).CatchUp(ctx); err != nil {
		w.t.Fatal(err)
	}
	p := projection.New(projection.Config{Log: w.log, Identities: w.store})
	runCtx, stop := context.WithCancel(w.t.Context())
	w.t.Cleanup(stop)
	go p.Run(runCtx)
	for {
		if ok, _ := p.Progress(); ok {
			break
		}
		if ctx.Err() != nil {
			w.t.Fatal("the projection never read the log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.ResolveAll(ctx); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestAttributionAcrossDevices: a person clicks a Google ad on one device and comes from
// Facebook on another; identify calls join both devices to one user, who then buys. Their
// journey spans both devices. Another person's only touch is older than the lookback.
func TestAttributionAcrossDevices(t *testing.T) {
	w := newWorld(t)
	w.send("d1", fmt.Sprintf(`"type":"page","anonymousId":"d1","timestamp":%q,"context":{"campaign":{"source":"google","medium":"cpc","name":"brand"},"page":{"url":"https://shop.example/?utm_source=google"}}`, at(0)))
	w.send("d2", fmt.Sprintf(`"type":"page","anonymousId":"d2","timestamp":%q,"context":{"page":{"url":"https://shop.example/","referrer":"https://www.facebook.com/"}}`, at(2)))
	w.send("d2", fmt.Sprintf(`"type":"identify","anonymousId":"d2","userId":"u1","timestamp":%q,"traits":{}`, at(3)))
	w.send("d1", fmt.Sprintf(`"type":"identify","anonymousId":"d1","userId":"u1","timestamp":%q,"traits":{}`, at(4)))
	w.send("u1", fmt.Sprintf(`"type":"track","event":"Order Completed","userId":"u1","timestamp":%q,"properties":{"revenue":100}`, at(5)))
	w.send("d3", fmt.Sprintf(`"type":"page","anonymousId":"d3","timestamp":%q,"context":{"campaign":{"source":"newsletter","medium":"email"}}`, at(1)))
	w.send("d3", fmt.Sprintf(`"type":"track","event":"Order Completed","anonymousId":"d3","timestamp":%q,"properties":{"revenue":"40"}`, at(50)))
	w.send("d3", fmt.Sprintf(`"type":"track","event":"Order Completed","anonymousId":"d3","timestamp":%q,"properties":{"revenue":"40"}`, at(50))) // a second order
	p := w.settle()

	rep, err := p.Attribution(t.Context(), "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 3, 0)})
	if err != nil {
		t.Fatal(err)
	}
	credit := func(model string) map[string]float64 {
		out := map[string]float64{}
		for _, c := range rep.Models[model] {
			out[c.Key] = c.Conversions
		}
		return out
	}
	if rep.Conversions != 3 || !near(rep.Revenue, 180) || rep.Unattributed != 2 {
		t.Errorf("report: %d conversions worth %.2f, %d unattributed; want 3, 180, 2", rep.Conversions, rep.Revenue, rep.Unattributed)
	}
	if got := credit(analytics.FirstTouch); !near(got[analytics.PaidSearch], 1) || !near(got[analytics.Direct], 2) {
		t.Errorf("first touch %v: want the Google ad on the first device, and Direct for the two orders past the lookback", got)
	}
	if got := credit(analytics.LastTouch); !near(got[analytics.Social], 1) {
		t.Errorf("last touch %v: want Facebook on the second device", got)
	}
	if got := credit(analytics.Linear); !near(got[analytics.PaidSearch], 0.5) || !near(got[analytics.Social], 0.5) {
		t.Errorf("linear %v", got)
	}
	// A conversion defined by a filter on its properties: the orders over 50 only, their
	// bodies read from the store.
	rep, err = p.Attribution(t.Context(), "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 3, 0),
		Where: "e.properties.revenue > 50", Revenue: "properties.revenue"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conversions != 1 || !near(rep.Revenue, 100) {
		t.Errorf("filtered: %d conversions worth %.2f, want the one of 100", rep.Conversions, rep.Revenue)
	}
	if _, err := p.Attribution(t.Context(), "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 3, 0), Where: "e.properties.revenue >"}); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("a filter that does not compile: %v", err)
	}
}

// TestTrendFunnelRetentionFromTheLog: the same answers as the pure functions, through the log.
func TestTrendFunnelRetentionFromTheLog(t *testing.T) {
	w := newWorld(t)
	for i := range 20 {
		u := fmt.Sprintf("u%d", i)
		w.send(u, fmt.Sprintf(`"type":"page","userId":%q,"timestamp":%q`, u, at(float64(i%7))))
		if i%2 == 0 {
			w.send(u, fmt.Sprintf(`"type":"track","event":"Added","userId":%q,"timestamp":%q`, u, at(float64(i%7)+0.01)))
		}
		if i%4 == 0 {
			w.send(u, fmt.Sprintf(`"type":"track","event":"Bought","userId":%q,"timestamp":%q,"properties":{"revenue":10}`, u, at(float64(i%7)+8)))
		}
	}
	p := w.settle()
	periods, series, err := p.Trend(t.Context(), "ws", projection.TrendQuery{Event: "Bought", Measure: analytics.Sum, Interval: analytics.Week, From: day0, To: day0.AddDate(0, 0, 21)})
	if err != nil {
		t.Fatal(err)
	}
	if len(periods) != 4 || len(series) != 1 || series[0].Total != 50 {
		t.Errorf("trend %v %+v, want 5 orders of 10 over the 4 weeks the range touches", periods, series)
	}
	res, err := p.Funnel(t.Context(), "ws", projection.FunnelQuery{Steps: []string{"$page", "Added", "Bought"}, Window: 14 * 24 * time.Hour, From: day0, To: day0.AddDate(0, 0, 7)})
	if err != nil {
		t.Fatal(err)
	}
	if s := res[0].Steps; s[0].People != 20 || s[1].People != 10 || s[2].People != 5 {
		t.Errorf("funnel %+v", s)
	}
	res, _ = p.Funnel(t.Context(), "ws", projection.FunnelQuery{Steps: []string{"$page", "Added", "Bought"}, Window: 24 * time.Hour, From: day0, To: day0.AddDate(0, 0, 7)})
	if s := res[0].Steps; s[2].People != 0 {
		t.Errorf("a one-day window: %+v, want nobody buying (they buy 8 days later)", s)
	}
	cohorts, err := p.Retention("ws", projection.RetentionQuery{Start: "$page", Return: "Bought", Period: analytics.Week, Periods: 2, From: day0, To: day0.AddDate(0, 0, 7)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cohorts) != 1 || cohorts[0].People != 20 || cohorts[0].Returned[0]+cohorts[0].Returned[1] != 5 {
		t.Errorf("retention %+v", cohorts)
	}
	if _, _, err := p.Trend(t.Context(), "ws", projection.TrendQuery{Measure: "median", Interval: "day"}); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("an unknown measure: %v", err)
	}
}

// TestSplitFollowed: a split made long after the devices were joined (when nothing reads
// their identifiers again any more) shows in the answers within seconds: the projection reads
// again the identifiers of a profile whose identities changed, as the changes stream says.
func TestSplitFollowed(t *testing.T) {
	w := newWorld(t)
	w.send("d1", fmt.Sprintf(`"type":"page","anonymousId":"d1","timestamp":%q,"context":{"campaign":{"source":"google","medium":"cpc","name":"brand"}}`, at(0)))
	w.send("d2", fmt.Sprintf(`"type":"page","anonymousId":"d2","timestamp":%q,"context":{"page":{"url":"https://shop.example/","referrer":"https://www.facebook.com/"}}`, at(2)))
	w.send("d2", fmt.Sprintf(`"type":"identify","anonymousId":"d2","userId":"u1","timestamp":%q,"traits":{}`, at(3)))
	w.send("d1", fmt.Sprintf(`"type":"identify","anonymousId":"d1","userId":"u1","timestamp":%q,"traits":{}`, at(4)))
	w.send("u1", fmt.Sprintf(`"type":"track","event":"Order Completed","userId":"u1","timestamp":%q,"properties":{"revenue":100}`, at(5)))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	discard := slog.New(slog.DiscardHandler)
	proc := process.New(w.log, w.store, process.DefaultConfig(), prometheus.NewRegistry(), discard)
	if err := proc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	p := projection.New(projection.Config{Log: w.log, Identities: w.store, Now: now, Logger: discard})
	go p.Run(ctx)
	for ok := false; !ok; ok, _ = p.Progress() {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.ResolveAll(ctx); err != nil {
		t.Fatal(err)
	}
	last := func() map[string]float64 {
		rep, err := p.Attribution(ctx, "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 1, 0)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, c := range rep.Models[analytics.LastTouch] {
			out[c.Key] = c.Conversions
		}
		return out
	}
	if got := last(); !near(got[analytics.Social], 1) {
		t.Fatalf("before the split: %v", got)
	}
	mu.Lock()
	clock = clock.Add(time.Minute) // the identify's identifiers are no longer read every second
	mu.Unlock()
	if _, _, err := proc.Split(ctx, "ws", kenner.Identifier{Kind: kenner.KindUserID, Value: "u1"}, []kenner.Identifier{{Kind: kenner.KindAnonymousID, Value: "d2"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := last(); !near(got[analytics.PaidSearch], 1); got = last() {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the split, last touch is %v: want the ad (the Facebook device is no longer u1's)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countingStore counts the identifiers the projection reads the owners of.
type countingStore struct {
	*sqlite.Store
	reads atomic.Int64
}

func (c *countingStore) IdentityOwners(ctx context.Context, ws string, ids []kenner.Identifier) (map[kenner.Identifier]string, error) {
	c.reads.Add(int64(len(ids)))
	return c.Store.IdentityOwners(ctx, ws, ids)
}

// TestFeedJoinsPeopleWithoutReads: events the processor hands over come with the owners of
// the identifiers it touched, so the projection joins two devices to one person, merges
// included, without reading the identity graph.
func TestFeedJoinsPeopleWithoutReads(t *testing.T) {
	w := newWorld(t)
	ids := &countingStore{Store: w.store}
	p := projection.New(projection.Config{Log: w.log, Identities: ids})
	runCtx, stop := context.WithCancel(t.Context())
	defer stop()
	go p.Run(runCtx)
	for ok := false; !ok; ok, _ = p.Progress() {
		time.Sleep(10 * time.Millisecond)
	}
	w.send("d1", fmt.Sprintf(`"type":"page","anonymousId":"d1","timestamp":%q,"context":{"campaign":{"source":"google","medium":"cpc","name":"brand"}}`, at(0)))
	w.send("d2", fmt.Sprintf(`"type":"page","anonymousId":"d2","timestamp":%q,"context":{"page":{"url":"https://shop.example/","referrer":"https://www.facebook.com/"}}`, at(2)))
	w.send("d2", fmt.Sprintf(`"type":"identify","anonymousId":"d2","userId":"u1","timestamp":%q,"traits":{}`, at(3)))
	w.send("d1", fmt.Sprintf(`"type":"identify","anonymousId":"d1","userId":"u1","timestamp":%q,"traits":{}`, at(4)))
	w.send("u1", fmt.Sprintf(`"type":"track","event":"Order Completed","userId":"u1","timestamp":%q,"properties":{"revenue":100}`, at(5)))
	cfg := process.DefaultConfig()
	cfg.Applied = p.Feed
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := process.New(w.log, w.store, cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		rep, err := p.Attribution(ctx, "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 3, 0)})
		if err != nil {
			t.Fatal(err)
		}
		linear := map[string]float64{}
		for _, c := range rep.Models[analytics.Linear] {
			linear[c.Key] = c.Conversions
		}
		if near(linear[analytics.PaidSearch], 0.5) && near(linear[analytics.Social], 0.5) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the two devices were never joined: linear %v", linear)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := ids.reads.Load(); n != 0 {
		t.Errorf("the projection read the owners of %d identifiers, want none", n)
	}
}

// TestLateOwnersAreReadAgain: batches of two partitions can reach the projection in the other
// order than they committed in. Owners handed over late, from before a merge, move identifiers
// back to a profile that no longer has them; such a move is read once more, so the person is
// whole again after the next pass.
func TestLateOwnersAreReadAgain(t *testing.T) {
	w := newWorld(t)
	w.send("d1", fmt.Sprintf(`"type":"page","anonymousId":"d1","timestamp":%q,"context":{"campaign":{"source":"google","medium":"cpc","name":"brand"}}`, at(0)))
	w.send("d1", fmt.Sprintf(`"type":"identify","anonymousId":"d1","userId":"u1","timestamp":%q,"traits":{}`, at(1)))
	w.send("u1", fmt.Sprintf(`"type":"track","event":"Order Completed","userId":"u1","timestamp":%q,"properties":{"revenue":100}`, at(2)))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := process.New(w.log, w.store, process.DefaultConfig(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	d1, u1 := kenner.Identifier{Kind: kenner.KindAnonymousID, Value: "d1"}, kenner.Identifier{Kind: kenner.KindUserID, Value: "u1"}
	owners, err := w.store.IdentityOwners(ctx, "ws", []kenner.Identifier{d1, u1})
	if err != nil || owners[d1] == "" || owners[d1] != owners[u1] {
		t.Fatalf("owners in the store: %v %v", owners, err)
	}
	evs, _, err := w.store.Events(ctx, kenner.EventFilter{WorkspaceID: "ws", Limit: 10})
	if err != nil || len(evs) != 3 {
		t.Fatalf("stored events: %v %v", evs, err)
	}
	// A projection fed by hand only: its own log is empty.
	empty, err := nats.Open(ctx, nats.Options{Dir: t.TempDir(), Partitions: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	p := projection.New(projection.Config{Log: empty, Identities: w.store})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go p.Run(runCtx)
	for ok := false; !ok; ok, _ = p.Progress() {
		time.Sleep(10 * time.Millisecond)
	}
	// The committed state first, then an older batch's view: d1 on a profile of its own.
	p.ApplyEvents(evs, map[string]map[kenner.Identifier]string{"ws": {d1: owners[d1], u1: owners[u1]}})
	p.ApplyEvents(evs, map[string]map[kenner.Identifier]string{"ws": {d1: "prf_old"}})
	if err := p.ResolveDirty(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := p.Attribution(ctx, "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 3, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Models[analytics.FirstTouch]; len(got) != 1 || got[0].Key != analytics.PaidSearch {
		t.Errorf("first touch %v: want the ad seen on d1, joined to u1 again", got)
	}
}
