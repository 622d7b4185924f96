package activation_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/webhook"
	"github.com/kenner-cdp/kenner/egress"
)

// TestFlakyReceiver: with the default retry settings (1 s doubling to 10 min, breaker at five
// failed requests in a row), a receiver that fails 40% of requests at random gets all 200
// events promptly, where the last few used to wait minutes in exponential backoff: a failure
// among successes is retried promptly. There is never more than one request in flight per
// delivery. (The deadline only bounds the test; the receiver's log says how long it took.)
func TestFlakyReceiver(t *testing.T) {
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	store, log := openStoreAndLog(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(40, 40))
	delivered := map[string]bool{}
	inFlight := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(webhook.HeaderIdempotencyKey)
		mu.Lock()
		inFlight[key]++
		if inFlight[key] > 1 {
			t.Errorf("two requests of %s in flight at once", key)
		}
		fail := rng.Float64() < 0.4
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		inFlight[key]--
		if !fail {
			delivered[key] = true
		}
		mu.Unlock()
		if fail {
			http.Error(w, "flaky", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	cfg := []byte(fmt.Sprintf(`{"url":%q}`, srv.URL))
	// Attempts are generous so that no delivery dies of bad luck (0.4^25); the defaults are
	// what is measured.
	dest := &kenner.Destination{WorkspaceID: "ws", Name: "flaky", Type: webhook.Type, Config: cfg, MaxAttempts: 25,
		Subscribe: kenner.Subscription{Events: kenner.EventSubscription{Enabled: true}}}
	if err := store.CreateDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}
	svc := activation.New(store, log, activation.Config{
		Senders: activation.Senders{webhook.Type: webhook.Factory(egress.MustAllow("127.0.0.0/8"))},
	}, prometheus.NewRegistry(), logger)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	start := time.Now()
	var batch [][]byte
	for i := range 200 {
		batch = append(batch, event(fmt.Sprintf("u%03d", i), i, "Signed Up"))
	}
	if err := log.Append(ctx, []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "src", Partition: 0, Events: batch}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 200 delivered after 90 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("all 200 delivered in %s", time.Since(start).Round(time.Millisecond))
}
