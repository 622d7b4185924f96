package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testMatching: runs come back as stored, newest first; a pair queued for review twice (in
// either order) is one review; decisions move a review out of pending once; reviews and runs
// survive ResetDerived; erasing a person deletes the reviews that show them.
func testMatching(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_x")
	mustWorkspace(t, s, "ws_y")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r1 := &kenner.MatchRun{ID: "mr_1", WorkspaceID: "ws_x", Status: kenner.MatchRunning, Params: []byte(`{"dry_run":true}`), CreatedAt: at}
	r2 := &kenner.MatchRun{ID: "mr_2", WorkspaceID: "ws_x", Status: kenner.MatchRunning, Params: []byte(`{}`), CreatedAt: at.Add(time.Minute)}
	for _, r := range []*kenner.MatchRun{r1, r2} {
		if err := s.PutMatchRun(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	done := at.Add(2 * time.Minute)
	r1.Status, r1.Result, r1.FinishedAt = kenner.MatchDone, []byte(`{"merged":3}`), &done
	if err := s.PutMatchRun(ctx(t), r1); err != nil {
		t.Fatal(err)
	}
	got, err := s.MatchRun(ctx(t), "ws_x", "mr_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != kenner.MatchDone || strings.ReplaceAll(string(got.Result), " ", "") != `{"merged":3}` || got.FinishedAt == nil || !got.FinishedAt.Equal(done) {
		t.Errorf("run %+v, want it done with its result", got)
	}
	_, err = s.MatchRun(ctx(t), "ws_y", "mr_1")
	wantCode(t, "a run of another workspace", err, kenner.ENotFound)
	runs, err := s.MatchRuns(ctx(t), "ws_x", 10)
	if err != nil || len(runs) != 2 || runs[0].ID != "mr_2" {
		t.Errorf("runs %v %v, want mr_2 then mr_1", runs, err)
	}

	side := func(p string, ids ...string) kenner.MatchSide {
		s := kenner.MatchSide{ProfileID: p, Values: map[string]string{"surname": "smith"}}
		for _, id := range ids {
			s.Identifiers = append(s.Identifiers, kenner.Identifier{Kind: "crm_id", Value: id})
		}
		return s
	}
	review := func(a, b kenner.MatchSide) kenner.MatchReview {
		return kenner.MatchReview{RunID: "mr_2", Status: kenner.ReviewPending, Weight: 4.5, Probability: 0.7, A: a, B: b,
			Fields: []kenner.MatchField{{Field: "surname", Level: "exact", Contribution: 4.5}}, CreatedAt: at}
	}
	rs := []kenner.MatchReview{review(side("prf_a", "1"), side("prf_b", "2")), review(side("prf_c", "3"), side("prf_d", "4"))}
	n, err := s.AddMatchReviews(ctx(t), "ws_x", rs)
	if err != nil || n != 2 || rs[0].ID == 0 || rs[1].ID == 0 {
		t.Fatalf("added %d %v %+v", n, err, rs)
	}
	again := []kenner.MatchReview{review(side("prf_b", "2"), side("prf_a", "1")), review(side("prf_e", "5"), side("prf_a", "1"))}
	if n, err := s.AddMatchReviews(ctx(t), "ws_x", again); err != nil || n != 1 || again[0].ID != 0 {
		t.Errorf("added again %d %v %+v, want only the new pair", n, err, again)
	}
	if n, err := s.AddMatchReviews(ctx(t), "ws_y", []kenner.MatchReview{review(side("prf_a", "1"), side("prf_b", "2"))}); err != nil || n != 1 {
		t.Errorf("the same pair in another workspace: %d %v", n, err)
	}
	if err := s.DecideMatchReview(ctx(t), "ws_x", rs[0].ID, kenner.ReviewRejected, "ann@example.com", at); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deciding twice", s.DecideMatchReview(ctx(t), "ws_x", rs[0].ID, kenner.ReviewAccepted, "bob", at), kenner.EConflict)
	wantCode(t, "a decision that is none", s.DecideMatchReview(ctx(t), "ws_x", rs[1].ID, "maybe", "bob", at), kenner.EInvalid)
	wantCode(t, "another workspace's review", s.DecideMatchReview(ctx(t), "ws_y", rs[1].ID, kenner.ReviewAccepted, "bob", at), kenner.ENotFound)
	one, err := s.MatchReview(ctx(t), "ws_x", rs[0].ID)
	if err != nil || one.Status != kenner.ReviewRejected || one.DecidedBy != "ann@example.com" || one.DecidedAt == nil || one.A.Values["surname"] != "smith" {
		t.Errorf("decided review %+v %v", one, err)
	}
	if !one.Covers([]kenner.Identifier{{Kind: "crm_id", Value: "2"}}, []kenner.Identifier{{Kind: "crm_id", Value: "1"}, {Kind: "crm_id", Value: "9"}}) {
		t.Errorf("the rejected pair does not cover its own identifiers, reversed")
	}
	pending, err := s.MatchReviews(ctx(t), kenner.MatchReviewFilter{WorkspaceID: "ws_x", Status: kenner.ReviewPending, Limit: 10})
	if err != nil || len(pending) != 2 || pending[0].ID <= pending[1].ID {
		t.Errorf("pending %+v %v, want two, newest first", pending, err)
	}
	page, err := s.MatchReviews(ctx(t), kenner.MatchReviewFilter{WorkspaceID: "ws_x", After: pending[0].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID >= pending[0].ID {
		t.Errorf("page after %d: %+v %v", pending[0].ID, page, err)
	}
	counts, err := s.CountMatchReviews(ctx(t), "ws_x")
	if err != nil || counts[kenner.ReviewPending] != 2 || counts[kenner.ReviewRejected] != 1 {
		t.Errorf("counts %v %v", counts, err)
	}

	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if counts, _ := s.CountMatchReviews(ctx(t), "ws_x"); counts[kenner.ReviewRejected] != 1 {
		t.Errorf("after ResetDerived: %v, want the rejection kept", counts)
	}
	if _, err := s.MatchRun(ctx(t), "ws_x", "mr_1"); err != nil {
		t.Errorf("after ResetDerived: %v, want the run kept", err)
	}
	if _, err := s.Erase(ctx(t), "ws_x", kenner.ErasePlan{ProfileIDs: []string{"prf_a"}}); err != nil {
		t.Fatal(err)
	}
	left, err := s.MatchReviews(ctx(t), kenner.MatchReviewFilter{WorkspaceID: "ws_x", Limit: 10})
	if err != nil || len(left) != 1 || left[0].A.ProfileID != "prf_c" {
		t.Errorf("after erasing prf_a: %+v %v, want only the pair of prf_c and prf_d", left, err)
	}
	if counts, _ := s.CountMatchReviews(ctx(t), "ws_y"); counts[kenner.ReviewPending] != 1 {
		t.Errorf("erasure in ws_x touched ws_y: %v", counts)
	}
}
