package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
)

func apply(t *testing.T, s kenner.Store, fn kenner.ApplyFunc) {
	t.Helper()
	if err := s.Apply(ctx(t), kenner.Position{}, fn); err != nil {
		t.Fatal(err)
	}
}

func testComputedTraits(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	if b, err := s.Build(ctx(t), "ws"); err != nil || b.Version != 0 {
		t.Fatalf("Build of a new workspace = %+v, %v", b, err)
	}
	ct := &kenner.ComputedTrait{WorkspaceID: "ws", Name: "orders_30d", Func: kenner.FuncCount, Event: "Order Completed",
		Window: kenner.Duration(720 * time.Hour)}
	if err := s.PutComputedTrait(ctx(t), ct); err != nil {
		t.Fatal(err)
	}
	ct2 := *ct
	ct2.Where = `e.properties.total > 10`
	if err := s.PutComputedTrait(ctx(t), &ct2); err != nil {
		t.Fatal(err)
	}
	got, err := s.ComputedTraits(ctx(t), "ws")
	if err != nil || len(got) != 1 || got[0].Where != ct2.Where || got[0].Window != ct.Window {
		t.Fatalf("ComputedTraits = %+v, %v; want the replaced one", got, err)
	}
	if b, _ := s.Build(ctx(t), "ws"); b.Version != 2 {
		t.Errorf("version after two puts = %d, want 2", b.Version)
	}
	if err := s.DeleteComputedTrait(ctx(t), "ws", "orders_30d"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete again", s.DeleteComputedTrait(ctx(t), "ws", "orders_30d"), kenner.ENotFound)
	if got, _ := s.ComputedTraits(ctx(t), "ws"); len(got) != 0 {
		t.Errorf("after delete: %+v", got)
	}
}

func testSegments(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "Pro", Condition: `traits.plan == "pro"`}
	if err := s.CreateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "duplicate name", s.CreateSegment(ctx(t), &kenner.Segment{WorkspaceID: "ws", Name: "Pro", Condition: "true"}), kenner.EConflict)
	got, err := s.Segment(ctx(t), "ws", seg.ID)
	if err != nil || got.Name != "Pro" || got.State != kenner.SegmentBuilding || got.Version != 1 {
		t.Fatalf("Segment = %+v, %v; want Pro, building at version 1", got, err)
	}
	if err := s.SetBuild(ctx(t), "ws", kenner.Build{Built: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Segment(ctx(t), "ws", seg.ID); got.State != kenner.SegmentReady {
		t.Errorf("after the build: state %s, want ready", got.State)
	}
	seg.Name = "Pro users"
	if err := s.UpdateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Segment(ctx(t), "ws", seg.ID); got.State != kenner.SegmentReady || got.Name != "Pro users" {
		t.Errorf("after a rename: %+v, want ready (no rebuild)", got)
	}
	seg.Condition = `traits.plan == "enterprise"`
	if err := s.UpdateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBuild(ctx(t), "ws", kenner.Build{Built: 1, Processed: 5, Total: 10}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Segment(ctx(t), "ws", seg.ID); got.State != kenner.SegmentBuilding || got.Processed != 5 || got.Total != 10 {
		t.Errorf("after a new condition: %+v, want building 5/10", got)
	}
	wantCode(t, "update unknown", s.UpdateSegment(ctx(t), &kenner.Segment{WorkspaceID: "ws", ID: "nope"}), kenner.ENotFound)
	if list, err := s.Segments(ctx(t), "ws"); err != nil || len(list) != 1 {
		t.Errorf("Segments = %+v, %v", list, err)
	}
	if err := s.DeleteSegment(ctx(t), "ws", seg.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Segment(ctx(t), "ws", seg.ID)
	wantCode(t, "deleted segment", err, kenner.ENotFound)
	wantCode(t, "delete again", s.DeleteSegment(ctx(t), "ws", seg.ID), kenner.ENotFound)
}

func testMemberships(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "All", Condition: "true"}
	if err := s.CreateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	expires := at.Add(time.Hour)
	var profiles []*kenner.Profile
	for _, id := range []string{"p1", "p2", "p3"} {
		profiles = append(profiles, &kenner.Profile{WorkspaceID: "ws", ID: id, Rank: 1,
			Traits: map[string]kenner.Trait{"plan": {Value: json.RawMessage(`"pro"`), Timestamp: at},
				"email": {Value: json.RawMessage(`"` + id + `@example.com"`), Timestamp: at}},
			Aggregates: map[string]*kenner.Aggregate{"c1": {Buckets: []kenner.Bucket{{Start: 60, Count: 2}}},
				"t2": {Buckets: []kenner.Bucket{{Count: 1, Sum: 3}}}},
			Segments: map[string]time.Time{seg.ID: at}})
	}
	profiles[1].Expires = expires
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		if err := b.WriteGraph(ctx, "ws", kenner.GraphChanges{Created: []kenner.GraphNode{{ID: "p1", Rank: 1}, {ID: "p2", Rank: 2}, {ID: "p3", Rank: 3}}}); err != nil {
			return err
		}
		if err := b.SaveProfiles(ctx, profiles); err != nil {
			return err
		}
		var ms []kenner.MembershipEvent
		for _, p := range profiles {
			ms = append(ms, kenner.MembershipEvent{SegmentID: seg.ID, ProfileID: p.ID, Entered: true, At: at})
		}
		return b.WriteMemberships(ctx, "ws", ms)
	})
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		got, err := b.LoadProfiles(ctx, "ws", []string{"p1", "p2"})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(profiles[0].Aggregates, got["p1"].Aggregates); diff != "" {
			t.Errorf("aggregates round trip (-want +got):\n%s", diff)
		}
		if !got["p1"].Segments[seg.ID].Equal(at) || !got["p2"].Expires.Equal(expires) || !got["p1"].Expires.IsZero() {
			t.Errorf("loaded p1 segments %v expires %v, p2 expires %v", got["p1"].Segments, got["p1"].Expires, got["p2"].Expires)
		}
		if v, err := b.DefinitionsVersion(ctx, "ws"); err != nil || v != 1 {
			t.Errorf("DefinitionsVersion = %d, %v; want 1", v, err)
		}
		return b.WriteMemberships(ctx, "ws", []kenner.MembershipEvent{{SegmentID: seg.ID, ProfileID: "p2", At: at.Add(time.Minute)}})
	})
	page, next, err := s.SegmentMembers(ctx(t), "ws", seg.ID, "", 1)
	if err != nil || len(page) != 1 || page[0].ProfileID != "p1" || next != "p1" || !page[0].Since.Equal(at) {
		t.Fatalf("first page = %+v next %q, %v", page, next, err)
	}
	page, next, _ = s.SegmentMembers(ctx(t), "ws", seg.ID, next, 10)
	if len(page) != 1 || page[0].ProfileID != "p3" || next != "" {
		t.Errorf("second page = %+v next %q; want p3 (p2 left)", page, next)
	}
	if got, _ := s.Segment(ctx(t), "ws", seg.ID); got.Members != 2 {
		t.Errorf("members = %d, want 2", got.Members)
	}
	if got, err := s.CountMembers(ctx(t), "ws"); err != nil || got[seg.ID] != 2 {
		t.Errorf("CountMembers = %v, %v; want %s: 2", got, err, seg.ID)
	}
	hist, _, err := s.MembershipHistory(ctx(t), "ws", "p2", 0, 10)
	if err != nil || len(hist) != 2 || hist[0].Entered || !hist[1].Entered {
		t.Errorf("history of p2 = %+v, %v; want exit then entry, newest first", hist, err)
	}
	changes, err := s.Changes(ctx(t), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, c := range changes {
		types = append(types, c.Type+" "+c.ProfileID)
		if i > 0 && c.Seq <= changes[i-1].Seq {
			t.Errorf("changes out of order: %+v", changes)
		}
	}
	want := []string{"segment.entered p1", "segment.entered p2", "segment.entered p3", "segment.exited p2"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if after, _ := s.Changes(ctx(t), changes[1].Seq, 100); len(after) != 2 {
		t.Errorf("changes after the second: %d, want 2", len(after))
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		return b.AddChanges(ctx, []kenner.Change{{WorkspaceID: "ws", Type: kenner.ChangeProfileUpdated, ProfileID: "p1", At: at,
			Data: json.RawMessage(`{"traits":["plan"]}`)}})
	})
	if last, _ := s.Changes(ctx(t), changes[3].Seq, 100); len(last) != 1 || string(last[0].Data) != `{"traits":["plan"]}` {
		t.Errorf("profile.updated change = %+v", last)
	}
	if got, err := s.Profiles(ctx(t), "ws", []string{"p1", "nope", "p3"}); err != nil || len(got) != 2 || got["p3"].Segments[seg.ID].IsZero() {
		t.Errorf("Profiles = %v, %v; want p1 and p3 with their segments", got, err)
	}
	testScanProfiles(t, s, profiles, seg.ID, at)
	if ids, err := s.ProfileIDs(ctx(t), "ws", "p1", 10); err != nil || !cmp.Equal(ids, []string{"p2", "p3"}) {
		t.Errorf("ProfileIDs after p1 = %v, %v", ids, err)
	}
	if n, err := s.CountProfiles(ctx(t), "ws"); err != nil || n != 3 {
		t.Errorf("CountProfiles = %d, %v", n, err)
	}
	if ids, _ := s.ExpiringProfiles(ctx(t), "ws", expires.Add(-time.Second), 10); len(ids) != 0 {
		t.Errorf("expiring before p2's time: %v", ids)
	}
	if ids, _ := s.ExpiringProfiles(ctx(t), "ws", expires, 10); !cmp.Equal(ids, []string{"p2"}) {
		t.Errorf("expiring at p2's time: %v", ids)
	}
}

// testScanProfiles reads the profiles testMemberships saved by id range, whole and in part.
func testScanProfiles(t *testing.T, s kenner.Store, saved []*kenner.Profile, segID string, at time.Time) {
	t.Helper()
	got, err := s.ScanProfiles(ctx(t), "ws", "p1", "p9", nil)
	if err != nil || len(got) != 2 || got[0].ID != "p2" || got[1].ID != "p3" {
		t.Fatalf("ScanProfiles after p1 to p9 = %v, %v; want p2, p3", got, err)
	}
	if diff := cmp.Diff(saved[1].Traits, got[0].Traits); diff != "" || len(got[0].Aggregates) != 2 || !got[0].Expires.Equal(saved[1].Expires) {
		t.Errorf("ScanProfiles whole p2: traits (-want +got):\n%s aggregates %v expires %v", diff, got[0].Aggregates, got[0].Expires)
	}
	got, err = s.ScanProfiles(ctx(t), "ws", "", "p2", &kenner.ProfileFields{Traits: map[string]bool{"plan": true},
		Aggregates: map[string]bool{"c1": true}})
	if err != nil || len(got) != 2 || got[0].ID != "p1" {
		t.Fatalf("ScanProfiles to p2 with fields = %v, %v", got, err)
	}
	p := got[0]
	if _, ok := p.Traits["email"]; ok || string(p.Traits["plan"].Value) != `"pro"` {
		t.Errorf("ScanProfiles with traits plan: %v", p.Traits)
	}
	if diff := cmp.Diff(saved[0].Aggregates["c1"], p.Aggregates["c1"]); diff != "" || len(p.Aggregates) != 1 {
		t.Errorf("ScanProfiles with aggregate c1: %v (-want +got):\n%s", p.Aggregates, diff)
	}
	if !p.Segments[segID].Equal(at) {
		t.Errorf("ScanProfiles with fields: segments %v; memberships are always read", p.Segments)
	}
	if got, err := s.ScanProfiles(ctx(t), "other", "", "~", nil); err != nil || len(got) != 0 {
		t.Errorf("ScanProfiles of another workspace = %v, %v", got, err)
	}
	for _, tt := range []struct {
		after string
		limit int
		last  string
		n     int
	}{{"", 2, "p2", 2}, {"p1", 5, "p3", 2}, {"p3", 5, "", 0}, {"", 1, "p1", 1}} {
		if last, n, err := s.ProfilePage(ctx(t), "ws", tt.after, tt.limit); err != nil || last != tt.last || n != tt.n {
			t.Errorf("ProfilePage(after %q, %d) = %q, %d, %v; want %q, %d", tt.after, tt.limit, last, n, err, tt.last, tt.n)
		}
	}
}
