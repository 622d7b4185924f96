package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/nats/natstest"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// flakyPositions is the SQLite store whose saves of the relay's position fail while fail is
// set: the relay then stops as a crash would leave it, before its position was saved.
type flakyPositions struct {
	*sqlite.Store
	fail atomic.Bool
}

func (s *flakyPositions) Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error {
	if pos.Consumer == process.RelayConsumer && s.fail.Load() {
		return errors.New("lost before the position was saved")
	}
	return s.Store.Apply(ctx, pos, fn)
}

func addChanges(t *testing.T, store kenner.Store, cs ...kenner.Change) {
	t.Helper()
	if err := store.Apply(t.Context(), kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
		return b.AddChanges(ctx, cs)
	}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelay(t *testing.T) {
	ctx := t.Context()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	store := &flakyPositions{Store: sq}
	log, err := nats.Open(ctx, nats.Options{Dir: t.TempDir()}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	changes, err := log.Changes(ctx, nats.ChangesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A core subscriber sees each change as the stream stores it, on its own subject.
	var mu sync.Mutex
	var subjects []string
	sub, err := log.Conn().Subscribe("kenner.changes.>", func(m *natsgo.Msg) {
		mu.Lock()
		subjects = append(subjects, m.Subject)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	first := []kenner.Change{
		{WorkspaceID: "ws", Type: kenner.ChangeSegmentEntered, ProfileID: "p1", SegmentID: "s1", At: at},
		{WorkspaceID: "ws", Type: kenner.ChangeProfileUpdated, ProfileID: "p1", At: at, Data: json.RawMessage(`{"traits":["plan"]}`)},
		{WorkspaceID: "ws.2", Type: kenner.ChangeSegmentExited, ProfileID: "p2", SegmentID: "s1", At: at},
	}
	addChanges(t, store, first...)

	// Every save of the position fails: the relay publishes, fails, starts again from the
	// last saved position and publishes the same changes again.
	store.fail.Store(true)
	relay := process.NewRelay(store, changes, prometheus.NewRegistry(), discard)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(runCtx) })
	waitFor(t, "a republished round", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(subjects) >= 2*len(first)
	})
	store.fail.Store(false)
	more := kenner.Change{WorkspaceID: "ws", Type: kenner.ChangeSegmentExited, ProfileID: "p1", SegmentID: "s1", At: at.Add(time.Minute)}
	addChanges(t, store, more)
	relay.Wake()
	waitFor(t, "the position saved past every change", func() bool {
		pos, err := store.Position(ctx, process.RelayConsumer, 0)
		return err == nil && pos == 4
	})
	stop()
	wg.Wait()

	got, _ := natstest.Changes(t, log.Conn(), "changes")
	want, err := store.Changes(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the stream holds each change once, in order (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range []string{"kenner.changes.ws.segment.entered", "kenner.changes.ws_2.segment.exited"} {
		found := false
		for _, got := range subjects {
			found = found || got == s
		}
		if !found {
			t.Errorf("nothing published on %s; subjects %v", s, subjects)
		}
	}

	// A relay started again publishes only what is new.
	addChanges(t, store, kenner.Change{WorkspaceID: "ws", Type: kenner.ChangeProfileDeleted, ProfileID: "p2", At: at.Add(2 * time.Minute)})
	relay = process.NewRelay(store, changes, prometheus.NewRegistry(), discard)
	runCtx, stop = context.WithCancel(ctx)
	wg.Go(func() { relay.Run(runCtx) })
	waitFor(t, "the fifth change", func() bool {
		pos, _ := store.Position(ctx, process.RelayConsumer, 0)
		return pos == 5
	})
	stop()
	wg.Wait()
	if got, _ := natstest.Changes(t, log.Conn(), "changes"); len(got) != 5 || got[4].Type != kenner.ChangeProfileDeleted {
		t.Errorf("after a restart the stream holds %d changes, want 5 ending with the deletion: %+v", len(got), got)
	}
}
