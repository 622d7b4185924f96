package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
)

func testSourceSettings(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	src := &kenner.Source{WorkspaceID: "ws", Name: "shop", WriteKeyHash: "h-shop"}
	if err := s.CreateSource(ctx(t), src); err != nil {
		t.Fatal(err)
	}
	got, err := s.SourceByID(ctx(t), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings.Webhook != nil || got.Settings.TrackingPlan != nil {
		t.Errorf("new source has settings %+v", got.Settings)
	}
	settings := kenner.SourceSettings{
		Webhook: &kenner.WebhookMapping{Preset: "shopify", Verify: &kenner.WebhookVerify{Scheme: "shopify", Secret: "k"},
			Events: []kenner.WebhookEvent{{Type: "track", Event: "Order Completed", Fields: map[string]string{"userId": "$.customer.id"}}}},
		TrackingPlan: &kenner.TrackingPlan{Mode: kenner.PlanBlock, Unplanned: kenner.PlanFlag,
			Events: map[string]json.RawMessage{"Order Completed": json.RawMessage(`{"type":"object","required":["total"]}`)}},
	}
	if err := s.UpdateSourceSettings(ctx(t), "ws", src.ID, settings); err != nil {
		t.Fatal(err)
	}
	for name, find := range map[string]func() (*kenner.Source, error){
		"SourceByID":           func() (*kenner.Source, error) { return s.SourceByID(ctx(t), src.ID) },
		"SourceByName":         func() (*kenner.Source, error) { return s.SourceByName(ctx(t), "ws", "shop") },
		"SourceByWriteKeyHash": func() (*kenner.Source, error) { return s.SourceByWriteKeyHash(ctx(t), "h-shop") },
	} {
		got, err := find()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// JSON Schemas are documents: compare them as values, whatever the store's spacing.
		if diff := cmp.Diff(settings, got.Settings, cmp.Comparer(jsonEqual)); diff != "" {
			t.Errorf("%s settings (-want +got):\n%s", name, diff)
		}
	}
	wantCode(t, "unknown source", s.UpdateSourceSettings(ctx(t), "ws", "src_none", settings), kenner.ENotFound)
	wantCode(t, "other workspace", s.UpdateSourceSettings(ctx(t), "ws2", src.ID, settings), kenner.ENotFound)
	wantCode(t, "unknown id", func() error { _, err := s.SourceByID(ctx(t), "src_none"); return err }(), kenner.ENotFound)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}

func testViolations(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	v := func(event, path string, n int64, first, last time.Time) kenner.ViolationCount {
		return kenner.ViolationCount{SourceID: "src_a", Violation: kenner.Violation{Event: event, Path: path, Message: "missing"},
			Count: n, FirstSeen: first, LastSeen: last}
	}
	if err := s.AddViolations(ctx(t), "ws", []kenner.ViolationCount{v("Order Completed", "/total", 2, t0, t0.Add(time.Minute)), v("identify", "/email", 1, t0, t0)}); err != nil {
		t.Fatal(err)
	}
	// Adding again sums the counts and widens the times.
	if err := s.AddViolations(ctx(t), "ws", []kenner.ViolationCount{v("Order Completed", "/total", 3, t0.Add(-time.Hour), t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	other := v("Order Completed", "/total", 7, t0, t0)
	other.SourceID = "src_b"
	if err := s.AddViolations(ctx(t), "ws", []kenner.ViolationCount{other}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Violations(ctx(t), "ws", "src_a")
	if err != nil {
		t.Fatal(err)
	}
	want := []kenner.ViolationCount{v("Order Completed", "/total", 5, t0.Add(-time.Hour), t0.Add(time.Hour)), v("identify", "/email", 1, t0, t0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Violations (-want +got):\n%s", diff)
	}
	if got, _ := s.Violations(ctx(t), "ws2", "src_a"); len(got) != 0 {
		t.Errorf("other workspace sees %d violations", len(got))
	}
}

func testQuarantine(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var es []kenner.QuarantinedEvent
	for i, uid := range []string{"u1", "u2", "u3"} {
		es = append(es, kenner.QuarantinedEvent{WorkspaceID: "ws", SourceID: "src_a", MessageID: "m" + uid, Type: "track",
			Event: "Order Completed", UserID: uid, AnonymousID: "a" + uid,
			Violations: []kenner.Violation{{Event: "Order Completed", Path: "/total", Message: "missing"}},
			Body:       json.RawMessage(`{"type":"track","userId":"` + uid + `"}`), ReceivedAt: at.Add(time.Duration(i) * time.Second)})
	}
	if err := s.Quarantine(ctx(t), es); err != nil {
		t.Fatal(err)
	}
	if es[0].ID == 0 || es[1].ID <= es[0].ID || es[2].ID <= es[1].ID {
		t.Fatalf("ids not filled in order: %d %d %d", es[0].ID, es[1].ID, es[2].ID)
	}
	page1, err := s.QuarantinedEvents(ctx(t), kenner.QuarantineFilter{WorkspaceID: "ws", SourceID: "src_a", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	page2, err := s.QuarantinedEvents(ctx(t), kenner.QuarantineFilter{WorkspaceID: "ws", SourceID: "src_a", After: page1[len(page1)-1].ID, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(es, append(page1, page2...), cmp.Comparer(jsonEqual)); diff != "" {
		t.Errorf("QuarantinedEvents (-want +got):\n%s", diff)
	}
	if got, _ := s.QuarantinedEvents(ctx(t), kenner.QuarantineFilter{WorkspaceID: "ws", SourceID: "src_b", Limit: 10}); len(got) != 0 {
		t.Errorf("other source sees %d events", len(got))
	}

	n, err := s.ReleaseQuarantined(ctx(t), "ws", "src_a", []int64{es[0].ID, 999999})
	if err != nil || n != 1 {
		t.Fatalf("ReleaseQuarantined = %d, %v; want 1", n, err)
	}
	if n, _ := s.ReleaseQuarantined(ctx(t), "ws", "src_b", []int64{es[1].ID}); n != 0 {
		t.Errorf("another source released %d events", n)
	}
	// Erasing a person removes what they sent into quarantine, found by user or anonymous id.
	if _, err := s.Erase(ctx(t), "ws", kenner.ErasePlan{Identifiers: []kenner.Identifier{{Kind: kenner.KindAnonymousID, Value: "au2"}}}); err != nil {
		t.Fatal(err)
	}
	left, err := s.QuarantinedEvents(ctx(t), kenner.QuarantineFilter{WorkspaceID: "ws", SourceID: "src_a", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].UserID != "u3" {
		t.Errorf("after release and erasure: %+v, want only u3's event", left)
	}
}
