// Package storetest is the conformance suite every kenner.Store implementation must pass. Each
// store's own tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
)

// Opener returns a new, empty store; the suite closes it.
type Opener func(t *testing.T) kenner.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kenner.Store)
	}{
		{"Workspaces", testWorkspaces},
		{"DeleteWorkspace", testDeleteWorkspace},
		{"Fencing", testFencing},
		{"Sources", testSources},
		{"Tokens", testTokens},
		{"AppendEventsDeduplicates", testAppendEventsDeduplicates},
		{"AppendEventsConcurrentPartitions", testAppendEventsConcurrent},
		{"FailedApplyRollsBackAlone", testFailedApplyRollsBackAlone},
		{"EarliestCopyWins", testEarliestCopyWins},
		{"ResetDerived", testResetDerived},
		{"EventsFilterAndPaging", testEventsFilterAndPaging},
		{"ComputedTraits", testComputedTraits},
		{"Segments", testSegments},
		{"Memberships", testMemberships},
		{"ChangesFollowedWhileWritten", testChangesFollowed},
		{"MembershipFlips", testMembershipFlips},
		{"MergeChain", testMergeChain},
		{"DefinitionsWaitForProcessing", testDefinitionsWaitForProcessing},
		{"Destinations", testDestinations},
		{"DeliveryQueue", testDeliveryQueue},
		{"Erase", testErase},
		{"Audit", testAudit},
		{"Retention", testRetention},
		{"Imports", testImports},
		{"ImportKeys", testImportKeys},
		{"SourceSettings", testSourceSettings},
		{"Violations", testViolations},
		{"Quarantine", testQuarantine},
		{"IdentityGuard", testIdentityGuard},
		{"Users", testUsers},
		{"Slots", testSlots},
		{"Models", testModels},
		{"SegmentCounts", testSegmentCounts},
		{"Journeys", testJourneys},
		{"Matching", testMatching},
		{"IdentityOwners", testIdentityOwners},
		{"EventBodies", testEventBodies},
		{"Spend", testSpend},
		{"Reports", testReports},
		{"Syncs", testSyncs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustWorkspace(t *testing.T, s kenner.Store, id string) {
	t.Helper()
	if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: id, Name: id}); err != nil {
		t.Fatalf("CreateWorkspace(%s): %v", id, err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := kenner.ErrorCode(err); got != code {
		t.Fatalf("%s: got error code %q (%v), want %q", what, got, err, code)
	}
}

func testWorkspaces(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_a")
	mustWorkspace(t, s, "ws_b")
	wantCode(t, "duplicate workspace", s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: "ws_a"}), kenner.EConflict)
	got, err := s.Workspaces(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range got {
		ids = append(ids, w.ID)
	}
	if diff := cmp.Diff([]string{"ws_a", "ws_b"}, ids); diff != "" {
		t.Errorf("workspaces (-want +got):\n%s", diff)
	}
}

func testSources(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_a")
	web := &kenner.Source{WorkspaceID: "ws_a", Name: "web", WriteKeyHash: "h1"}
	if err := s.CreateSource(ctx(t), web); err != nil {
		t.Fatal(err)
	}
	if web.ID == "" || web.CreatedAt.IsZero() {
		t.Fatalf("CreateSource did not fill ID and CreatedAt: %+v", web)
	}
	wantCode(t, "duplicate name", s.CreateSource(ctx(t), &kenner.Source{WorkspaceID: "ws_a", Name: "web", WriteKeyHash: "h2"}), kenner.EConflict)
	if err := s.CreateSource(ctx(t), &kenner.Source{WorkspaceID: "ws_a", Name: "app", WriteKeyHash: "h3"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SourceByWriteKeyHash(ctx(t), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(web.ID, got.ID); diff != "" || got.Name != "web" || got.WorkspaceID != "ws_a" || got.WriteKeyHash != "h1" {
		t.Errorf("SourceByWriteKeyHash = %+v, want %+v", got, web)
	}
	if got.CreatedAt.Sub(web.CreatedAt).Abs() > time.Millisecond {
		t.Errorf("CreatedAt round trip: got %v, want %v", got.CreatedAt, web.CreatedAt)
	}
	_, err = s.SourceByWriteKeyHash(ctx(t), "nope")
	wantCode(t, "unknown hash", err, kenner.ENotFound)
	byName, err := s.SourceByName(ctx(t), "ws_a", "web")
	if err != nil || byName.ID != web.ID {
		t.Errorf("SourceByName = %+v, %v", byName, err)
	}
	_, err = s.SourceByName(ctx(t), "ws_a", "nope")
	wantCode(t, "unknown name", err, kenner.ENotFound)
	list, err := s.Sources(ctx(t), "ws_a")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, src := range list {
		names = append(names, src.Name)
	}
	if diff := cmp.Diff([]string{"app", "web"}, names); diff != "" {
		t.Errorf("Sources (-want +got):\n%s", diff)
	}
}

func testTokens(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_a")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	tok := &kenner.Token{WorkspaceID: "ws_a", Name: "ci", Role: kenner.RoleAnalyst, Hash: "th1", ExpiresAt: &exp}
	if err := s.CreateToken(ctx(t), tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx(t), "th1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || got.Role != kenner.RoleAnalyst || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil {
		t.Errorf("TokenByHash = %+v, want %+v", got, tok)
	}
	_, err = s.TokenByHash(ctx(t), "nope")
	wantCode(t, "unknown token", err, kenner.ENotFound)
	if err := s.RevokeToken(ctx(t), "ws_a", tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "revoke twice", s.RevokeToken(ctx(t), "ws_a", tok.ID, time.Now()), kenner.ENotFound)
	wantCode(t, "revoke in other workspace", s.RevokeToken(ctx(t), "ws_b", tok.ID, time.Now()), kenner.ENotFound)
	got, _ = s.TokenByHash(ctx(t), "th1")
	if got.RevokedAt == nil || got.Active(time.Now()) {
		t.Errorf("revoked token still active: %+v", got)
	}
	list, err := s.Tokens(ctx(t), "ws_a")
	if err != nil || len(list) != 1 {
		t.Errorf("Tokens = %v, %v; want the one token", list, err)
	}
}

func event(ws string, seq uint64, idx int, msgID, user, anon string) kenner.Event {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq) * time.Second)
	return kenner.Event{
		WorkspaceID: ws, SourceID: "src", Seq: seq, Index: idx, MessageID: msgID, Type: kenner.TypeTrack, Name: "Order Completed",
		UserID: user, AnonymousID: anon, Timestamp: ts, ReceivedAt: ts,
		Body: []byte(fmt.Sprintf(`{"messageId":%q,"type":"track","event":"Order Completed"}`, msgID)),
	}
}

func testAppendEventsDeduplicates(t *testing.T, s kenner.Store) {
	pos := kenner.Position{Consumer: "c", Partition: 0, Seq: 1}
	added, err := AppendEvents(s, ctx(t), pos, []kenner.Event{event("ws", 1, 0, "m1", "u1", ""), event("ws", 1, 1, "m2", "u1", "")})
	if err != nil || added != 2 {
		t.Fatalf("first append = %d, %v; want 2", added, err)
	}
	// A replay of the same record, and a later record repeating m1 (an SDK retry), add nothing.
	pos.Seq = 2
	added, err = AppendEvents(s, ctx(t), pos, []kenner.Event{event("ws", 1, 0, "m1", "u1", ""), event("ws", 2, 0, "m1", "u1", ""), event("ws", 2, 1, "m3", "", "a1")})
	if err != nil || added != 1 {
		t.Fatalf("second append = %d, %v; want 1", added, err)
	}
	// The same message id in another workspace is another event.
	pos.Seq = 3
	added, err = AppendEvents(s, ctx(t), pos, []kenner.Event{event("ws2", 2, 2, "m1", "u1", "")})
	if err != nil || added != 1 {
		t.Fatalf("other workspace = %d, %v; want 1", added, err)
	}
	got, err := s.Position(ctx(t), "c", 0)
	if err != nil || got != 3 {
		t.Errorf("Position = %d, %v; want 3", got, err)
	}
	// Positions never move backwards.
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Partition: 0, Seq: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Position(ctx(t), "c", 0); got != 3 {
		t.Errorf("Position after an older append = %d, want 3", got)
	}
	// A batch at or before the stored position was applied already: fn is not run again.
	ran := false
	if err := s.Apply(ctx(t), kenner.Position{Consumer: "c", Partition: 0, Seq: 3}, func(context.Context, kenner.Batch) error {
		ran = true
		return nil
	}); err != nil || ran {
		t.Errorf("Apply at the stored position: ran %v, err %v; want it skipped", ran, err)
	}
	if got, _ := s.Position(ctx(t), "other", 0); got != 0 {
		t.Errorf("Position of an unknown consumer = %d, want 0", got)
	}
}

func testAppendEventsConcurrent(t *testing.T, s kenner.Store) {
	const parts, perPart = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, parts*perPart)
	for p := range parts {
		wg.Go(func() {
			for i := range perPart {
				seq := uint64(p*1000 + i + 1)
				ev := event("ws", seq, 0, fmt.Sprintf("p%d-%d", p, i), "u", "")
				if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Partition: p, Seq: seq}, []kenner.Event{ev}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for p := range parts {
		if got, _ := s.Position(ctx(t), "c", p); got != uint64(p*1000+perPart) {
			t.Errorf("partition %d position = %d, want %d", p, got, p*1000+perPart)
		}
	}
	all, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", Limit: kenner.MaxPageLimit})
	if err != nil || len(all) != parts*perPart {
		t.Errorf("stored %d events (%v), want %d", len(all), err, parts*perPart)
	}
}

// testFailedApplyRollsBackAlone: calls that fail after writing, running at the same time as
// calls that succeed (a store may group them in one transaction), leave nothing behind, not even
// their position; the others are kept.
func testFailedApplyRollsBackAlone(t *testing.T, s kenner.Store) {
	const parts, perPart = 4, 30
	failing := func(p, i int) bool { return (p+i)%3 == 0 }
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() {
			for i := range perPart {
				seq := uint64(p*1000 + i + 1)
				ev := event("ws", seq, 0, fmt.Sprintf("p%d-%d", p, i), "u", "")
				err := s.Apply(ctx(t), kenner.Position{Consumer: "c", Partition: p, Seq: seq}, func(ctx context.Context, b kenner.Batch) error {
					if _, err := b.InsertEvents(ctx, []kenner.Event{ev}); err != nil {
						return err
					}
					if failing(p, i) {
						return errBoom
					}
					return nil
				})
				if failing(p, i) != errors.Is(err, errBoom) {
					t.Errorf("partition %d call %d: err %v", p, i, err)
				}
			}
		})
	}
	wg.Wait()
	all, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", Limit: kenner.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range all {
		got[e.MessageID] = true
	}
	for p := range parts {
		for i := range perPart {
			if id := fmt.Sprintf("p%d-%d", p, i); got[id] == failing(p, i) {
				t.Errorf("event %s stored = %v, want %v", id, got[id], !failing(p, i))
			}
		}
		// Two calls in a row never both fail, so the position is the last or the one before.
		want := uint64(p*1000 + perPart)
		if failing(p, perPart-1) {
			want--
		}
		if pos, _ := s.Position(ctx(t), "c", p); pos != want {
			t.Errorf("partition %d position = %d, want %d", p, pos, want)
		}
	}
}

var errBoom = errors.New("boom")

func testEventsFilterAndPaging(t *testing.T, s kenner.Store) {
	var evs []kenner.Event
	for i := range 25 {
		user, anon := "u1", "a1"
		if i%2 == 1 {
			user, anon = "u2", ""
		}
		evs = append(evs, event("ws", uint64(i/5+1), i%5, fmt.Sprintf("m%02d", i), user, anon))
	}
	evs = append(evs, event("other", 9, 0, "x", "u1", ""))
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Seq: 9}, evs); err != nil {
		t.Fatal(err)
	}
	// Newest first, across pages of 10, with nothing lost or repeated.
	var ids []string
	var after *kenner.EventCursor
	pages := 0
	for {
		page, next, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", Limit: 10, After: after})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page {
			ids = append(ids, e.MessageID)
		}
		if next == "" {
			break
		}
		c, err := kenner.ParseEventCursor(next)
		if err != nil {
			t.Fatal(err)
		}
		after = &c
	}
	var want []string
	for i := 24; i >= 0; i-- {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	if diff := cmp.Diff(want, ids); diff != "" || pages != 3 {
		t.Errorf("paged listing in %d pages (-want +got):\n%s", pages, diff)
	}
	tests := []struct {
		name string
		f    kenner.EventFilter
		want int
	}{
		{"user", kenner.EventFilter{WorkspaceID: "ws", UserID: "u2"}, 12},
		{"anonymous", kenner.EventFilter{WorkspaceID: "ws", AnonymousID: "a1"}, 13},
		{"message", kenner.EventFilter{WorkspaceID: "ws", MessageID: "m07"}, 1},
		{"workspace isolation", kenner.EventFilter{WorkspaceID: "other"}, 1},
		{"no match", kenner.EventFilter{WorkspaceID: "ws", UserID: "nobody"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.Events(ctx(t), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || next != "" {
				t.Errorf("got %d events (next %q), want %d", len(got), next, tc.want)
			}
		})
	}
	one, _, _ := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", MessageID: "m07"})
	if len(one) == 1 {
		e := one[0]
		want := evs[7]
		if e.Seq != want.Seq || e.Index != want.Index || e.UserID != "u2" || e.Name != want.Name || e.Type != want.Type ||
			!e.Timestamp.Equal(want.Timestamp) || string(e.Body) != string(want.Body) {
			t.Errorf("round trip: got %+v, want %+v", e, want)
		}
	}
}

// testEarliestCopyWins: whichever partition is applied first, the copy of a message id that is
// earliest in the log is the one kept.
func testEarliestCopyWins(t *testing.T, s kenner.Store) {
	late := event("ws", 9, 0, "dup", "late-user", "")
	early := event("ws", 3, 1, "dup", "early-user", "")
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Partition: 1, Seq: 9}, []kenner.Event{late}); err != nil {
		t.Fatal(err)
	}
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Partition: 0, Seq: 3}, []kenner.Event{early}); err != nil {
		t.Fatal(err)
	}
	// Applying the later copy again (a replay) must not bring it back.
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Partition: 1, Seq: 9}, []kenner.Event{late}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", MessageID: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].UserID != "early-user" || got[0].Seq != 3 || got[0].Index != 1 {
		t.Errorf("kept %+v, want only the copy at 3/1", got)
	}
}

func testResetDerived(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	if err := s.CreateSource(ctx(t), &kenner.Source{WorkspaceID: "ws", Name: "web", WriteKeyHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Seq: 4}, []kenner.Event{event("ws", 4, 0, "m", "u", "")}); err != nil {
		t.Fatal(err)
	}
	// Consumers of what the store put out (activation, the changes relay) keep their place:
	// what they passed on was passed on.
	for _, c := range []string{"activation.x", "changes.relay"} {
		if err := s.Apply(ctx(t), kenner.Position{Consumer: c, Seq: 7}, func(context.Context, kenner.Batch) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws"}); len(got) != 0 {
		t.Errorf("%d events after reset", len(got))
	}
	if pos, _ := s.Position(ctx(t), "c", 0); pos != 0 {
		t.Errorf("position %d after reset", pos)
	}
	for _, c := range []string{"activation.x", "changes.relay"} {
		if pos, _ := s.Position(ctx(t), c, 0); pos != 7 {
			t.Errorf("position of %s %d after reset, want 7", c, pos)
		}
	}
	if _, err := s.SourceByWriteKeyHash(ctx(t), "h"); err != nil {
		t.Errorf("configuration lost in reset: %v", err)
	}
	// The same message can be stored again: the reset state accepts a replay.
	if added, err := AppendEvents(s, ctx(t), kenner.Position{Consumer: "c", Seq: 4}, []kenner.Event{event("ws", 4, 0, "m", "u", "")}); err != nil || added != 1 {
		t.Errorf("append after reset = %d, %v", added, err)
	}
}

// AppendEvents stores events as the processor does for events that identify no one.
func AppendEvents(s kenner.Store, ctx context.Context, pos kenner.Position, events []kenner.Event) (int, error) {
	added := 0
	err := s.Apply(ctx, pos, func(ctx context.Context, b kenner.Batch) error {
		var err error
		added, err = b.InsertEvents(ctx, events)
		return err
	})
	return added, err
}
