package activation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/webhook"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

const secret = "s3cret"

// receiver is a local webhook receiver that fails at random: 500s, 429 with Retry-After,
// answers after the sender's timeout (having processed the message: the sender retries a
// message that did arrive), and connections reset before any answer.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	rng  *rand.Rand
	got  []received // every message it processed, in arrival order
	fail bool       // when false, every request succeeds (the end of the test)
}

type received struct {
	Key     string
	Type    string
	Order   string // the person: userId for events, profile id for changes
	Seq     int    // properties.n of events
	Payload map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature)
	if sig != webhook.Sign(secret, ts, body) {
		rc.t.Errorf("bad signature %q for timestamp %q", sig, ts)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("body is not JSON: %s", body)
	}
	rc.mu.Lock()
	roll := rc.rng.Float64()
	if !rc.fail {
		roll = 1
	}
	rc.mu.Unlock()
	switch {
	case roll < 0.15:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case roll < 0.18:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case roll < 0.23:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // reset: no answer at all
		}
		return
	}
	rc.record(r.Header.Get(webhook.HeaderIdempotencyKey), p)
	if roll < 0.28 {
		time.Sleep(400 * time.Millisecond) // past the sender's timeout: it retries
	}
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) record(key string, p map[string]any) {
	r := received{Key: key, Payload: p}
	r.Type, _ = p["type"].(string)
	switch r.Type {
	case kenner.DeliveryEvent:
		if p["messageId"] != key {
			rc.t.Errorf("idempotency key %q, message id %v", key, p["messageId"])
		}
		msg, _ := p["message"].(map[string]any)
		r.Order, _ = msg["userId"].(string)
		props, _ := msg["properties"].(map[string]any)
		n, _ := props["n"].(float64)
		r.Seq = int(n)
	default:
		prof, _ := p["profile"].(map[string]any)
		r.Order, _ = prof["id"].(string)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.mu.Unlock()
}

func (rc *receiver) snapshot() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

type harness struct {
	t     *testing.T
	store *sqlite.Store
	log   *nats.Log
	reg   *prometheus.Registry
}

func (h *harness) start(ctx context.Context) (stop func()) {
	cfg := activation.Config{
		Senders: activation.Senders{webhook.Type: webhook.Factory(egress.MustAllow("127.0.0.0/8"))},
		Poll:    50 * time.Millisecond, Lease: 2 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		MaxAttempts: 1000, BreakerFailures: 5,
	}
	svc := activation.New(h.store, h.log, cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	return func() { cancel(); <-done }
}

func event(user string, n int, name string) []byte {
	at := time.Date(2026, 11, 1, 0, 0, n, 0, time.UTC).Format(time.RFC3339Nano)
	b, _ := json.Marshal(map[string]any{"type": "track", "event": name, "userId": user, "messageId": fmt.Sprintf("m-%s-%03d", user, n),
		"timestamp": at, "receivedAt": at, "properties": map[string]any{"n": n}})
	return b
}

// TestChaosDelivery sends events and segment entries through a receiver that fails at random,
// restarting activation in the middle: every message arrives, each person's in order, and a
// message arrives twice only as a retry of the same idempotency key.
func TestChaosDelivery(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { chaos(t, seed) })
	}
}

// openStoreAndLog opens a SQLite store with workspace "ws" and an embedded log of two
// partitions, both closed when the test ends.
func openStoreAndLog(t *testing.T) (*sqlite.Store, *nats.Log) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, err := nats.Open(t.Context(), nats.Options{Dir: t.TempDir(), Partitions: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	return store, log
}

func chaos(t *testing.T, seed uint64) {
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	store, log := openStoreAndLog(t)
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "buyers", Condition: `events.exists("Order Completed")`}
	if err := store.CreateSegment(ctx, seg); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, rng: rand.New(rand.NewPCG(seed, 7)), fail: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cfg, _ := json.Marshal(map[string]any{"url": srv.URL, "secret": secret, "timeout": "250ms"})
	dest := &kenner.Destination{WorkspaceID: "ws", Name: "hook", Type: webhook.Type, Config: cfg, Parallel: 4,
		Subscribe: kenner.Subscription{Events: kenner.EventSubscription{Enabled: true, Filter: `e.event != "Ignored"`}, Segments: []string{seg.ID}}}
	if err := store.CreateDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, store: store, log: log}
	procCtx, stopProc := context.WithCancel(ctx)
	var wg sync.WaitGroup
	pcfg := process.DefaultConfig()
	proc := process.New(log, store, pcfg, prometheus.NewRegistry(), logger)
	wg.Go(func() { proc.Run(procCtx) })
	defer func() { stopProc(); wg.Wait() }()
	stop := h.start(ctx)

	const users, perUser = 12, 15
	want := map[string][]int{} // user -> event numbers in order
	buyers := 0
	for round := range perUser {
		var batches []kenner.LogBatch
		for u := range users {
			user := fmt.Sprintf("u%02d", u)
			name := "Page Viewed"
			switch {
			case round == 7 && u%3 == 0:
				name = "Order Completed"
				buyers++
			case round == 3:
				name = "Ignored"
			}
			if name != "Ignored" {
				want[user] = append(want[user], round)
			}
			batches = append(batches, kenner.LogBatch{WorkspaceID: "ws", SourceID: "src", Partition: u % 2, Events: [][]byte{event(user, round, name)}})
		}
		if err := log.Append(ctx, batches); err != nil {
			t.Fatal(err)
		}
		if round == perUser/2 {
			stop() // restart activation in the middle
			stop = h.start(ctx)
		}
	}
	expected := users*(perUser-1) + buyers

	deadline := time.Now().Add(90 * time.Second)
	for {
		got := distinct(rc.snapshot())
		if len(got) >= expected {
			if depth, _ := store.QueueDepth(ctx, dest.ID); depth == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90s the receiver has %d distinct messages, want %d", len(got), expected)
		}
		if time.Now().After(deadline.Add(-30 * time.Second)) {
			rc.mu.Lock()
			rc.fail = false // let the last retries through; the checks below still hold
			rc.mu.Unlock()
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	got := rc.snapshot()
	// Per person: the arrivals, with a retry of the message just before collapsed, are the
	// events in log order; a duplicate anywhere else is a reordering.
	events := map[string][]int{}
	entered := map[string]int{}
	last := map[string]string{}
	for _, r := range got {
		if last[r.Order] == r.Key {
			continue // a retry of the message just delivered: same idempotency key
		}
		last[r.Order] = r.Key
		switch r.Type {
		case kenner.DeliveryEvent:
			events[r.Order] = append(events[r.Order], r.Seq)
		case kenner.ChangeSegmentEntered:
			entered[r.Order]++
			if s, _ := r.Payload["segment"].(map[string]any); s["name"] != "buyers" {
				t.Errorf("segment.entered payload %v, want the segment named", r.Payload)
			}
		default:
			t.Errorf("unexpected delivery %+v", r)
		}
	}
	for user, seqs := range want {
		if !slices.Equal(events[user], seqs) {
			t.Errorf("%s received %v, want %v (in order, each once)", user, events[user], seqs)
		}
	}
	if len(entered) != buyers {
		t.Errorf("segment entries for %d profiles, want %d", len(entered), buyers)
	}
	for p, n := range entered {
		if n != 1 {
			t.Errorf("profile %s entered %d times", p, n)
		}
	}
	dups := len(got) - len(distinct(got))
	dead, _ := store.Deliveries(ctx, kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: dest.ID, Status: kenner.DeliveryDead, Limit: 10})
	if len(dead) > 0 {
		t.Errorf("%d dead letters; the retry budget was not meant to run out", len(dead))
	}
	t.Logf("%d messages, %d duplicate arrivals (same key)", len(distinct(got)), dups)
}

func distinct(rs []received) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		out[r.Key] = true
	}
	return out
}
