package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
)

func testDestinations(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	mustWorkspace(t, s, "other")
	d := &kenner.Destination{WorkspaceID: "ws", Name: "crm", Type: "webhook", Config: json.RawMessage(`{"url":"http://x"}`),
		Subscribe: kenner.Subscription{Events: kenner.EventSubscription{Enabled: true, Filter: `e.type == "track"`}, Segments: []string{"seg_1"}}}
	if err := s.CreateDestination(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.CreatedAt.IsZero() {
		t.Fatalf("CreateDestination left id %q, created_at %v", d.ID, d.CreatedAt)
	}
	dup := &kenner.Destination{WorkspaceID: "ws", Name: "crm", Type: "webhook"}
	wantCode(t, "CreateDestination with a taken name", s.CreateDestination(ctx(t), dup), kenner.EConflict)
	if err := s.CreateDestination(ctx(t), &kenner.Destination{WorkspaceID: "other", Name: "crm", Type: "nats"}); err != nil {
		t.Fatalf("same name in another workspace: %v", err)
	}

	got, err := s.Destination(ctx(t), "ws", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Subscribe, d.Subscribe); diff != "" || got.Name != "crm" || string(got.Config) != `{"url":"http://x"}` {
		t.Errorf("Destination = %+v (subscribe diff %s)", got, diff)
	}
	_, err = s.Destination(ctx(t), "other", d.ID)
	wantCode(t, "Destination of another workspace", err, kenner.ENotFound)

	got.Paused = true
	if err := s.UpdateDestination(ctx(t), got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Destination(ctx(t), "ws", d.ID); !again.Paused || !again.UpdatedAt.After(d.CreatedAt.Add(-time.Millisecond)) {
		t.Errorf("after update: %+v", again)
	}
	wantCode(t, "UpdateDestination unknown", s.UpdateDestination(ctx(t), &kenner.Destination{WorkspaceID: "ws", ID: "dst_x", Name: "n"}), kenner.ENotFound)

	all, err := s.Destinations(ctx(t), "")
	if err != nil || len(all) != 2 {
		t.Fatalf("Destinations(all) = %d, %v; want 2", len(all), err)
	}
	mine, _ := s.Destinations(ctx(t), "ws")
	if len(mine) != 1 || mine[0].WorkspaceID != "ws" {
		t.Fatalf("Destinations(ws) = %+v", mine)
	}

	if err := s.DeleteDestination(ctx(t), "ws", d.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "DeleteDestination twice", s.DeleteDestination(ctx(t), "ws", d.ID), kenner.ENotFound)
}

func delivery(dest, key, order string, at time.Time) kenner.Delivery {
	return kenner.Delivery{WorkspaceID: "ws", DestinationID: dest, Key: key, OrderKey: order, Type: "event",
		Payload: json.RawMessage(`{"k":"` + key + `"}`), NextAt: at, CreatedAt: at}
}

func keys(ds []kenner.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Key)
	}
	return out
}

// testDeliveryQueue checks the queue's promises: enqueue is idempotent with the position,
// claims give each person's oldest pending delivery only, leases hide claimed deliveries,
// settling moves them on, dead ones can be requeued.
func testDeliveryQueue(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	enqueue := func(seq uint64, ds ...kenner.Delivery) {
		t.Helper()
		pos := kenner.Position{Consumer: "activation.test", Partition: 0, Seq: seq}
		if err := s.Apply(ctx(t), pos, func(ctx2 context.Context, b kenner.Batch) error { return b.Enqueue(ctx2, ds) }); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(1, delivery("d1", "a1", "alice", t0), delivery("d1", "b1", "bob", t0), delivery("d1", "a2", "alice", t0))
	enqueue(1, delivery("d1", "zz", "zed", t0)) // at the stored position: skipped
	enqueue(2, delivery("d1", "a1", "alice", t0), delivery("d1", "a3", "alice", t0), delivery("d2", "a1", "alice", t0))
	if n, _ := s.QueueDepth(ctx(t), "d1"); n != 4 {
		t.Fatalf("QueueDepth(d1) = %d, want 4 (a1 once, zz skipped)", n)
	}

	lease := t0.Add(time.Minute)
	claimed, err := s.ClaimDeliveries(ctx(t), "d1", t0, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keys(claimed), []string{"a1", "b1"}); diff != "" {
		t.Fatalf("first claim (-got +want):\n%s", diff)
	}
	if again, _ := s.ClaimDeliveries(ctx(t), "d1", t0, lease, 10); len(again) != 0 {
		t.Fatalf("claim while leased = %v, want none (alice's a2 waits for a1)", keys(again))
	}
	// A crashed claimer: the lease runs out and the same head comes back.
	if back, _ := s.ClaimDeliveries(ctx(t), "d1", lease, lease.Add(time.Minute), 10); !cmp.Equal(keys(back), []string{"a1", "b1"}) {
		t.Fatalf("claim after the lease = %v, want a1 b1 again", keys(back))
	}
	a1, b1 := claimed[0], claimed[1]
	t1 := lease.Add(time.Second)
	err = s.Settle(ctx(t), []kenner.Outcome{
		{DeliveryID: a1.ID, Status: kenner.DeliveryDelivered, Attempt: kenner.Attempt{DeliveryID: a1.ID, At: t1, Status: 200, LatencyMS: 3.5, Response: "ok"}},
		{DeliveryID: b1.ID, Status: kenner.DeliveryPending, NextAt: t1.Add(time.Hour), Attempt: kenner.Attempt{DeliveryID: b1.ID, At: t1, Status: 503, Error: "receiver answered 503"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := s.ClaimDeliveries(ctx(t), "d1", t1, t1.Add(time.Minute), 10)
	if !cmp.Equal(keys(next), []string{"a2"}) {
		t.Fatalf("claim after settling = %v, want a2 (b1 backs off)", keys(next))
	}
	err = s.Settle(ctx(t), []kenner.Outcome{{DeliveryID: next[0].ID, Status: kenner.DeliveryDead,
		Attempt: kenner.Attempt{DeliveryID: next[0].ID, At: t1, Status: 400, Error: "receiver answered 400"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Dead letters do not hold the queue: a3 is alice's head now.
	if got, _ := s.ClaimDeliveries(ctx(t), "d1", t1, t1.Add(time.Minute), 10); !cmp.Equal(keys(got), []string{"a3"}) {
		t.Fatalf("claim after a dead letter = %v, want a3", keys(got))
	}

	dead, err := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: "d1", Status: kenner.DeliveryDead, Limit: 10})
	if err != nil || !cmp.Equal(keys(dead), []string{"a2"}) || dead[0].Attempts != 1 || dead[0].LastError != "receiver answered 400" || dead[0].DoneAt.IsZero() {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
	all, _ := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: "d1", Limit: 2})
	if !cmp.Equal(keys(all), []string{"a3", "a2"}) {
		t.Fatalf("Deliveries newest first, limit 2 = %v", keys(all))
	}
	page2, _ := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: "d1", Before: all[1].ID, Limit: 10})
	if !cmp.Equal(keys(page2), []string{"b1", "a1"}) {
		t.Fatalf("Deliveries page 2 = %v", keys(page2))
	}
	one, err := s.Delivery(ctx(t), "ws", a1.ID)
	if err != nil || one.Status != kenner.DeliveryDelivered || string(one.Payload) != `{"k":"a1"}` {
		t.Fatalf("Delivery(a1) = %+v, %v", one, err)
	}
	_, err = s.Delivery(ctx(t), "other", a1.ID)
	wantCode(t, "Delivery of another workspace", err, kenner.ENotFound)
	attempts, err := s.Attempts(ctx(t), b1.ID)
	if err != nil || len(attempts) != 1 || attempts[0].Status != 503 || !attempts[0].At.Equal(t1) {
		t.Fatalf("Attempts(b1) = %+v, %v", attempts, err)
	}

	n, err := s.Requeue(ctx(t), "ws", "d1", nil)
	if err != nil || n != 1 {
		t.Fatalf("Requeue(all) = %d, %v; want 1", n, err)
	}
	if d, _ := s.Delivery(ctx(t), "ws", dead[0].ID); d.Status != kenner.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("requeued = %+v", d)
	}
	if n, _ := s.Requeue(ctx(t), "ws", "d1", []int64{a1.ID}); n != 0 {
		t.Fatalf("Requeue of a delivered one = %d, want 0", n)
	}

	// Pruning takes delivered ones done before the time, with their attempts, nothing else.
	if n, err := s.PruneDeliveries(ctx(t), t1, 100); err != nil || n != 0 {
		t.Fatalf("PruneDeliveries(before the delivery) = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneDeliveries(ctx(t), t1.Add(time.Second), 100); err != nil || n != 1 {
		t.Fatalf("PruneDeliveries = %d, %v; want 1 (a1)", n, err)
	}
	_, err = s.Delivery(ctx(t), "ws", a1.ID)
	wantCode(t, "pruned delivery", err, kenner.ENotFound)
	if as, _ := s.Attempts(ctx(t), a1.ID); len(as) != 0 {
		t.Errorf("attempts of a pruned delivery: %+v", as)
	}

	// Activation's positions survive a replay's reset.
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if pos, _ := s.Position(ctx(t), "activation.test", 0); pos != 2 {
		t.Fatalf("activation position after ResetDerived = %d, want 2", pos)
	}
	if n, _ := s.QueueDepth(ctx(t), "d1"); n != 3 {
		t.Fatalf("queue after ResetDerived = %d, want 3 (kept)", n)
	}
}
