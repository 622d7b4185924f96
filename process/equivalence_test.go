package process_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// TestIncrementalEqualsRecompute sends random events in random batches, then checks that the
// memberships and computed values kept incrementally equal a full recompute from the stored
// events, now and after the clock moves (sweep vs recompute).
func TestIncrementalEqualsRecompute(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkEquivalence(t, seed) })
	}
}

func checkEquivalence(t *testing.T, seed uint64) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	traits := []kenner.ComputedTrait{
		{Name: "orders_3d", Func: kenner.FuncCount, Event: "Order Completed", Window: kenner.Duration(3 * day)},
		{Name: "revenue", Func: kenner.FuncSum, Event: "Order Completed", Property: "properties.total"},
		{Name: "avg_order_5d", Func: kenner.FuncAverage, Event: "Order Completed", Property: "properties.total", Window: kenner.Duration(5 * day)},
		{Name: "max_order", Func: kenner.FuncMax, Event: "Order Completed", Property: "properties.total"},
		{Name: "first_category", Func: kenner.FuncFirst, Event: "Product Viewed", Property: "properties.category"},
		{Name: "last_category_2d", Func: kenner.FuncLast, Event: "Product Viewed", Property: "properties.category", Window: kenner.Duration(2 * day)},
		{Name: "favorite", Func: kenner.FuncMostFrequent, Event: "Product Viewed", Property: "properties.category"},
		{Name: "categories", Func: kenner.FuncUnique, Event: "Product Viewed", Property: "properties.category", Where: `e.properties.category != "hats"`},
		{Name: "big_spender", Func: kenner.FuncExpression, Expression: `computed.revenue > 200.0`},
	}
	for _, tr := range traits {
		tr.WorkspaceID = "ws"
		if err := store.PutComputedTrait(ctx, &tr); err != nil {
			t.Fatal(err)
		}
	}
	segs := []kenner.Segment{
		{ID: "seg_buyers", Name: "buyers", Condition: `events.count("Order Completed", duration("72h")) >= 2`},
		{ID: "seg_pro", Name: "pro", Condition: `has(traits.plan) && traits.plan == "pro"`},
		{ID: "seg_shoes", Name: "shoes", Condition: `events.exists("Product Viewed", duration("36h"), e, e.properties.category == "shoes")`},
		{ID: "seg_quiet", Name: "quiet", Condition: `!events.exists("Order Completed", duration("48h")) && segment("pro")`},
		{ID: "seg_big", Name: "big", Condition: `computed.big_spender || (has(identities.email) && size(identities.anonymous_id) > 1)`},
	}
	for _, s := range segs {
		s.WorkspaceID = "ws"
		if err := store.CreateSegment(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	cfg := process.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	proc := process.New(nil, store, cfg, prometheus.NewRegistry(), logger)
	builder := process.NewBuilder(proc, store, time.Hour, logger)
	if err := builder.Build(ctx, "ws"); err != nil { // nothing to build yet: marks the definitions built
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(seed, 42))
	var recs []kenner.LogRecord
	categories := []string{"shoes", "hats", "bags", "socks"}
	for seq := uint64(1); seq <= 400; seq++ {
		p := rng.IntN(25)
		at := now.Add(-time.Duration(rng.IntN(7*24*60)) * time.Minute).Format(time.RFC3339)
		id := fmt.Sprintf("m%d", seq)
		anon := fmt.Sprintf("a%d-%d", p, rng.IntN(3))
		var body string
		switch r := rng.IntN(10); {
		case r == 0:
			plan := []string{"pro", "free"}[rng.IntN(2)]
			body = fmt.Sprintf(`{"type":"identify","messageId":%q,"userId":"u%d","anonymousId":%q,"timestamp":%q,"receivedAt":"2026-05-10T00:00:00Z","traits":{"plan":%q,"email":"p%d@example.com"}}`,
				id, p, anon, at, plan, p)
		case r < 4:
			body = fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":%q,"anonymousId":%q,"timestamp":%q,"receivedAt":"2026-05-10T00:00:00Z","properties":{"total":%d}}`,
				id, anon, at, 5+rng.IntN(150))
		default:
			body = fmt.Sprintf(`{"type":"track","event":"Product Viewed","messageId":%q,"anonymousId":%q,"timestamp":%q,"receivedAt":"2026-05-10T00:00:00Z","properties":{"category":%q}}`,
				id, anon, at, categories[rng.IntN(len(categories))])
		}
		recs = append(recs, kenner.LogRecord{Seq: seq, WorkspaceID: "ws", SourceID: "src", Events: [][]byte{[]byte(body)}})
	}
	for i := 0; i < len(recs); {
		n := 1 + rng.IntN(20)
		if err := proc.Apply(ctx, 0, recs[i:min(i+n, len(recs))]); err != nil {
			t.Fatal(err)
		}
		i += n
	}

	incremental := snapshot(t, store, proc, now)
	if len(incremental) < 10 {
		t.Fatalf("only %d profiles", len(incremental))
	}
	recompute(t, store, proc)
	if diff := cmp.Diff(incremental, snapshot(t, store, proc, now)); diff != "" {
		t.Errorf("incremental vs recompute (-incremental +recompute):\n%s", diff)
	}

	// Three days later: the sweep's memberships equal a recompute's.
	now = now.Add(3 * day)
	if err := builder.Sweep(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	swept := snapshot(t, store, proc, now)
	recompute(t, store, proc)
	if diff := cmp.Diff(swept, snapshot(t, store, proc, now)); diff != "" {
		t.Errorf("after the sweep (-swept +recompute):\n%s", diff)
	}

	// A new segment and an edited one that need no new aggregate: the build evaluates every
	// profile and writes only those that change, and must leave what a full recompute does.
	// The builder is a new one, as after a restart: it learns from the finished build that the
	// profiles keep the current aggregates.
	builder = process.NewBuilder(proc, store, time.Hour, logger)
	if err := builder.Build(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []kenner.Segment{
		{ID: "seg_free_buyer", Name: "free buyer", Condition: `has(traits.plan) && traits.plan == "free" && computed.revenue > 0.0 && !events.exists("Order Completed", duration("72h"))`},
		{ID: "seg_spender", Name: "spender", Condition: `computed.revenue > 100.0 || segment("shoes")`},
	} {
		s.WorkspaceID = "ws"
		if err := store.CreateSegment(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	pro := segs[1]
	pro.WorkspaceID, pro.Condition = "ws", `has(traits.plan) && traits.plan == "free"`
	if err := store.UpdateSegment(ctx, &pro); err != nil {
		t.Fatal(err)
	}
	// An edited expression: the segment reading it is evaluated again, from kept aggregates.
	big := traits[len(traits)-1]
	big.WorkspaceID, big.Expression = "ws", `computed.revenue > 120.0`
	if err := store.PutComputedTrait(ctx, &big); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if err := builder.Build(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "events_read=false") {
		t.Errorf("the build read events although no aggregate is new:\n%s", logs.String())
	}
	if st, err := store.Build(ctx, "ws"); err != nil || st.Built != st.Version || st.Processed != int64(len(incremental)) {
		t.Errorf("build state %+v, %v; want built, %d profiles processed", st, err, len(incremental))
	}
	built := snapshot(t, store, proc, now)
	recompute(t, store, proc)
	if diff := cmp.Diff(built, snapshot(t, store, proc, now)); diff != "" {
		t.Errorf("after an evaluation-only build (-built +recompute):\n%s", diff)
	}
	// A deleted segment leaves the profiles with the build that follows.
	if err := store.DeleteSegment(ctx, "ws", "seg_quiet"); err != nil {
		t.Fatal(err)
	}
	if err := builder.Build(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	for id, st := range snapshot(t, store, proc, now) {
		if slices.Contains(st.Segments, "seg_quiet") {
			t.Errorf("profile %s still holds the deleted segment: %v", id, st.Segments)
		}
	}
	members := 0
	for _, st := range built {
		if slices.Contains(st.Members, "seg_free_buyer") {
			members++
		}
	}
	if members == 0 {
		t.Error("the new segment has no members: the test shows nothing")
	}
}

type state struct {
	Segments []string
	Members  []string // by the members table
	Computed map[string]any
}

func snapshot(t *testing.T, store kenner.Store, proc *process.Processor, now time.Time) map[string]state {
	t.Helper()
	ctx := t.Context()
	eng, err := proc.Engine(ctx, "ws")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]state{}
	ids, err := store.ProfileIDs(ctx, "ws", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		p, err := store.Profile(ctx, "ws", kenner.Identifier{Kind: kenner.KindProfileID, Value: id})
		if err != nil {
			t.Fatal(err)
		}
		st := state{Computed: eng.Computed(p, now)}
		for s := range p.Segments {
			st.Segments = append(st.Segments, s)
		}
		slices.Sort(st.Segments)
		out[id] = st
	}
	for _, seg := range eng.Segments() {
		ms, _, err := store.SegmentMembers(ctx, "ws", seg.ID, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			st := out[m.ProfileID]
			st.Members = append(st.Members, seg.ID)
			slices.Sort(st.Members)
			out[m.ProfileID] = st
		}
	}
	return out
}

func recompute(t *testing.T, store kenner.Store, proc *process.Processor) {
	t.Helper()
	ids, err := store.ProfileIDs(t.Context(), "ws", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Recompute(context.Background(), "ws", ids, true, nil); err != nil {
		t.Fatal(err)
	}
}
