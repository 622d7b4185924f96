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

// TestAppliedUntil: the processor remembers, per partition, when the last event it applied was
// received (how late its profiles are while behind), and nothing for a partition it has not
// applied anything from.
func TestAppliedUntil(t *testing.T) {
	store := openStore(t)
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	p := process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), discard)
	if _, ok := p.AppliedUntil(1); ok {
		t.Error("applied until: known before anything was applied")
	}
	rec := kenner.LogRecord{Seq: 1, Partition: 1, WorkspaceID: "ws", SourceID: "src", Events: [][]byte{body("m1", "u1"), body("m2", "u2")}}
	if err := p.Apply(t.Context(), 1, []kenner.LogRecord{rec}); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC)
	if got, ok := p.AppliedUntil(1); !ok || !got.Equal(want) {
		t.Errorf("applied until = %v, %v; want %v", got, ok, want)
	}
	if _, ok := p.AppliedUntil(0); ok {
		t.Error("partition 0: known though nothing was applied from it")
	}
}
