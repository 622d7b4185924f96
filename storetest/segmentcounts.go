package storetest

import (
	"testing"

	"github.com/kenner-cdp/kenner"
)

// testSegmentCounts: a day's count is replaced by a later one of the same day, counts come
// back oldest first from a day on, per workspace, and go with their segment.
func testSegmentCounts(t *testing.T, s kenner.Store) {
	for _, ws := range []string{"ws_c", "ws_d"} {
		if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: ws, Name: ws}); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
			t.Fatal(err)
		}
	}
	seg := &kenner.Segment{WorkspaceID: "ws_c", Name: "vip", Condition: "true"}
	if err := s.CreateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		day string
		n   int64
	}{{"2026-12-01", 10}, {"2026-12-02", 12}, {"2026-12-02", 15}, {"2026-12-04", 9}} {
		if err := s.RecordSegmentCounts(ctx(t), "ws_c", r.day, map[string]int64{seg.ID: r.n, "seg_other": 1}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SegmentCounts(ctx(t), "ws_c", seg.ID, "2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	want := []kenner.SegmentCount{{Day: "2026-12-02", Members: 15}, {Day: "2026-12-04", Members: 9}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("counts %v, want %v", got, want)
	}
	if other, _ := s.SegmentCounts(ctx(t), "ws_d", seg.ID, "2026-01-01"); len(other) != 0 {
		t.Errorf("another workspace: %v", other)
	}
	if err := s.DeleteSegment(ctx(t), "ws_c", seg.ID); err != nil {
		t.Fatal(err)
	}
	if gone, _ := s.SegmentCounts(ctx(t), "ws_c", seg.ID, "2026-01-01"); len(gone) != 0 {
		t.Errorf("a deleted segment's counts: %v", gone)
	}
}
