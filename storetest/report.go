package storetest

import (
	"testing"

	"github.com/kenner-cdp/kenner"
)

// testReports: saved reports list in order, names are unique per workspace, delete removes one,
// and they survive ResetDerived.
func testReports(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_r")
	mustWorkspace(t, s, "ws_q")
	a := &kenner.SavedReport{WorkspaceID: "ws_r", Name: "ROI", Kind: "campaigns", Query: "model=linear", CreatedBy: "ann"}
	b := &kenner.SavedReport{WorkspaceID: "ws_r", Name: "Checkout", Kind: "funnels", Query: "step=a&step=b"}
	for _, r := range []*kenner.SavedReport{a, b} {
		if err := s.SaveReport(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "a name twice", s.SaveReport(ctx(t), &kenner.SavedReport{WorkspaceID: "ws_r", Name: "ROI", Kind: "trends"}), kenner.EConflict)
	if err := s.SaveReport(ctx(t), &kenner.SavedReport{WorkspaceID: "ws_q", Name: "ROI", Kind: "trends"}); err != nil {
		t.Errorf("the same name in another workspace: %v", err)
	}
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Reports(ctx(t), "ws_r")
	if err != nil || len(got) != 2 || got[0].ID != a.ID || got[0].Query != "model=linear" || got[0].CreatedBy != "ann" || got[1].Kind != "funnels" {
		t.Fatalf("reports %+v %v", got, err)
	}
	if err := s.DeleteReport(ctx(t), "ws_r", a.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting twice", s.DeleteReport(ctx(t), "ws_r", a.ID), kenner.ENotFound)
	wantCode(t, "another workspace's report", s.DeleteReport(ctx(t), "ws_q", b.ID), kenner.ENotFound)
	if got, _ := s.Reports(ctx(t), "ws_r"); len(got) != 1 {
		t.Errorf("after delete %v", got)
	}
}
