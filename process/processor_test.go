package process_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

var discard = slog.New(slog.DiscardHandler)

func body(id, user string) []byte {
	return []byte(fmt.Sprintf(`{"type":"track","event":"E","messageId":%q,"userId":%q,"timestamp":"2026-11-24T10:00:00.000Z","receivedAt":"2026-11-24T10:00:01.000Z"}`, id, user))
}

// runUntilCaughtUp applies the whole log to store.
func runUntilCaughtUp(t *testing.T, log *nats.Log, store kenner.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := process.New(log, store, process.DefaultConfig(), prometheus.NewRegistry(), discard).CatchUp(ctx); err != nil {
		t.Fatalf("catch up: %v", err)
	}
}

func listing(t *testing.T, store kenner.Store) []string {
	events, _, err := store.Events(t.Context(), kenner.EventFilter{WorkspaceID: "ws", Limit: kenner.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%d/%d %s %s %s", e.Seq, e.Index, e.MessageID, e.UserID, e.Timestamp.Format(time.RFC3339)))
	}
	return out
}

func openStore(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestReplayIsIdempotent: duplicates in the log are stored once, a restarted processor changes
// nothing, and replaying the whole log into an empty store gives the same state.
func TestReplayIsIdempotent(t *testing.T) {
	log, err := nats.Open(t.Context(), nats.Options{Dir: t.TempDir(), Partitions: 3}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 30 {
		p := kenner.PartitionOf(fmt.Sprint("u", i%5), 3)
		events := [][]byte{body(fmt.Sprint("m", i), fmt.Sprint("u", i%5))}
		if i%7 == 0 { // an SDK retry: the same message again, later in the log
			events = append(events, body(fmt.Sprint("m", i/2), fmt.Sprint("u", i%5)))
		}
		if err := log.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: p, Events: events}}); err != nil {
			t.Fatal(err)
		}
	}
	// A record the processor cannot decode must not stop the partition.
	if err := log.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: 0, Events: [][]byte{[]byte(`{"type":"track"}`)}}}); err != nil {
		t.Fatal(err)
	}

	first := openStore(t)
	runUntilCaughtUp(t, log, first)
	got := listing(t, first)
	if len(got) != 30 {
		t.Fatalf("stored %d events, want 30 (duplicates dropped):\n%v", len(got), got)
	}
	runUntilCaughtUp(t, log, first)
	if diff := cmp.Diff(got, listing(t, first)); diff != "" {
		t.Errorf("a restarted processor changed the store (-before +after):\n%s", diff)
	}
	replayed := openStore(t)
	runUntilCaughtUp(t, log, replayed)
	if diff := cmp.Diff(got, listing(t, replayed)); diff != "" {
		t.Errorf("replay differs (-original +replay):\n%s", diff)
	}
}
