package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
)

// testJourneys: journeys and their versions come back as stored; a move writes the person's
// place, path, counters, sends and deliveries together, or nothing when the person moved
// since (their revision); timers are due by time and only in live journeys; archiving takes
// everyone out.
func testJourneys(t *testing.T, s kenner.Store) {
	for _, ws := range []string{"ws_j", "ws_k"} {
		if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: ws, Name: ws}); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
			t.Fatal(err)
		}
	}
	def := kenner.JourneyDefinition{Name: "welcome", Entry: kenner.JourneyEntry{Event: "Signed Up"}, Reentry: "30d",
		Steps: []kenner.JourneyStep{{ID: "w", Type: kenner.StepWait, Duration: kenner.Duration(time.Hour), Next: "m"},
			{ID: "m", Type: kenner.StepEmail, Subject: "Hi {{ .traits.first_name }}", Text: "hello"}}}
	j := &kenner.Journey{WorkspaceID: "ws_j", JourneyDefinition: def}
	if err := s.CreateJourney(ctx(t), j); err != nil {
		t.Fatal(err)
	}
	if j.ID == "" || j.Status != kenner.JourneyDraft {
		t.Fatalf("created %+v: want an id and draft", j)
	}
	wantCode(t, "duplicate name", s.CreateJourney(ctx(t), &kenner.Journey{WorkspaceID: "ws_j", JourneyDefinition: def}), kenner.EConflict)
	if err := s.CreateJourney(ctx(t), &kenner.Journey{WorkspaceID: "ws_k", JourneyDefinition: def}); err != nil {
		t.Fatalf("the same name in another workspace: %v", err)
	}
	got, err := s.Journey(ctx(t), "ws_j", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, got.JourneyDefinition); diff != "" {
		t.Errorf("journey read back (-want +got):\n%s", diff)
	}
	_, err = s.Journey(ctx(t), "ws_k", j.ID)
	wantCode(t, "journey of another workspace", err, kenner.ENotFound)

	pub, err := s.PublishJourney(ctx(t), "ws_j", j.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if pub.Version != 1 || pub.Status != kenner.JourneyLive || pub.PublishedAt == nil {
		t.Fatalf("published %+v: want version 1, live", pub)
	}
	got.Steps[1].Subject = "Hello again"
	got.Status = kenner.JourneyLive
	if err := s.UpdateJourney(ctx(t), got); err != nil {
		t.Fatal(err)
	}
	if pub, err = s.PublishJourney(ctx(t), "ws_j", j.ID, time.Now()); err != nil || pub.Version != 2 {
		t.Fatalf("second publish: %+v %v", pub, err)
	}
	vs, err := s.JourneyVersions(ctx(t), "ws_j", j.ID)
	if err != nil || len(vs) != 2 || vs[0].Definition.Steps[1].Subject != "Hi {{ .traits.first_name }}" || vs[1].Definition.Steps[1].Subject != "Hello again" {
		t.Fatalf("versions %+v %v: want the two definitions as published", vs, err)
	}
	_, err = s.JourneyVersion(ctx(t), "ws_j", j.ID, 3)
	wantCode(t, "unpublished version", err, kenner.ENotFound)
	all, err := s.Journeys(ctx(t), "")
	if err != nil || len(all) < 2 {
		t.Fatalf("every workspace's journeys: %d %v", len(all), err)
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	enroll := func(pid string, due time.Time) kenner.Enrollment {
		return kenner.Enrollment{WorkspaceID: "ws_j", JourneyID: j.ID, ProfileID: pid, Run: 1, Version: 2, Step: "w",
			State: kenner.EnrollmentActive, DueAt: due, Seq: 1, EnteredAt: now, UpdatedAt: now, Rev: 1}
	}
	move := func(m kenner.JourneyMove) bool {
		t.Helper()
		var ok bool
		apply(t, s, func(ctx context.Context, b kenner.Batch) error {
			var err error
			ok, err = b.MoveJourney(ctx, m.Enrollment.WorkspaceID, m)
			return err
		})
		return ok
	}
	stat := func(step, metric string, d int64) kenner.JourneyStat {
		return kenner.JourneyStat{JourneyID: j.ID, Step: step, Metric: metric, Delta: d}
	}
	a := enroll("prf_a", now.Add(-time.Minute))
	if !move(kenner.JourneyMove{Enrollment: a, Stats: []kenner.JourneyStat{stat("", "entered", 1), stat("w", "waiting", 1)}}) {
		t.Fatal("a new enrollment was refused")
	}
	if move(kenner.JourneyMove{Enrollment: a, Stats: []kenner.JourneyStat{stat("", "entered", 1)}}) {
		t.Fatal("the same enrollment was created twice")
	}
	b := enroll("prf_b", now.Add(time.Hour))
	move(kenner.JourneyMove{Enrollment: b, Stats: []kenner.JourneyStat{stat("", "entered", 1), stat("w", "waiting", 1)}})

	due, err := s.DueEnrollments(ctx(t), now, 10)
	if err != nil || len(due) != 1 || due[0].ProfileID != "prf_a" || !due[0].DueAt.Equal(a.DueAt) || due[0].Rev != 1 {
		t.Fatalf("due: %+v %v, want prf_a's timer", due, err)
	}
	if next, err := s.NextDue(ctx(t)); err != nil || !next.Equal(a.DueAt) {
		t.Errorf("next due %v %v, want %v", next, err, a.DueAt)
	}

	// Two writers move prf_a from revision 1: the second is refused, and writes nothing.
	send := delivery("$journeys.email", "jrn_a_1_2", "prf_a", now)
	send.WorkspaceID = "ws_j"
	moved := a
	moved.Step, moved.DueAt, moved.Seq, moved.Rev = "m", time.Time{}, 2, 2
	m := kenner.JourneyMove{Enrollment: moved, PrevRev: 1,
		Path:       []kenner.JourneyPathStep{{JourneyID: j.ID, ProfileID: "prf_a", Run: 1, Seq: 1, Step: "w", Outcome: "waited", At: now}},
		Stats:      []kenner.JourneyStat{stat("w", "waiting", -1), stat("m", "sent", 1)},
		Sends:      []kenner.JourneySend{{ProfileID: "prf_a", Day: "2026-12-07", Week: "2026-W50"}},
		Deliveries: []kenner.Delivery{send}}
	if !move(m) {
		t.Fatal("the move from the stored revision was refused")
	}
	if move(m) {
		t.Fatal("a second move from the same revision was applied")
	}
	if ds, err := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws_j", DestinationID: "$journeys.email", Limit: 10}); err != nil || len(ds) != 1 {
		t.Errorf("deliveries %v %v: want the one send", ds, err)
	}
	stats, err := s.JourneyStats(ctx(t), "ws_j", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]map[string]int64{"": {"entered": 2}, "w": {"waiting": 1}, "m": {"sent": 1}}; !cmp.Equal(stats, want) {
		t.Errorf("stats %v, want %v", stats, want)
	}
	if d, w, err := s.JourneySends(ctx(t), "ws_j", "prf_a", "2026-12-07", "2026-W50"); err != nil || d != 1 || w != 1 {
		t.Errorf("sends %d %d %v, want 1 and 1", d, w, err)
	}
	if d, w, _ := s.JourneySends(ctx(t), "ws_j", "prf_a", "2026-12-08", "2026-W50"); d != 0 || w != 1 {
		t.Errorf("sends the next day %d, that week %d: want 0 and 1", d, w)
	}
	path, err := s.JourneyPath(ctx(t), "ws_j", "", "prf_a")
	if err != nil || len(path) != 1 || path[0].JourneyID != j.ID || path[0].Outcome != "waited" {
		t.Errorf("path %+v %v", path, err)
	}
	es, err := s.Enrollments(ctx(t), "ws_j", "prf_a")
	if err != nil || len(es) != 1 || es[0].Step != "m" || !es[0].DueAt.IsZero() || es[0].Rev != 2 {
		t.Errorf("enrollments %+v %v", es, err)
	}

	// A reaction counts once per email and kind, on the step and the journey.
	for i, want := range []bool{true, false} {
		first, err := s.AddJourneyReaction(ctx(t), "ws_j", j.ID, "m", "prf_a", "jrn_a_1_2", "opened")
		if err != nil || first != want {
			t.Errorf("reaction %d: %v %v, want %v", i, first, err, want)
		}
	}
	if st, _ := s.JourneyStats(ctx(t), "ws_j", j.ID); st["m"]["opened"] != 1 || st[""]["opened"] != 1 {
		t.Errorf("opened counters %v", st)
	}

	// Migration moves those at a step the new version has; the others stay.
	if n, err := s.MigrateJourney(ctx(t), "ws_j", j.ID, 3, []string{"w"}); err != nil || n != 1 {
		t.Errorf("migrate: %d %v, want prf_b (at w) moved, prf_a (at m) left", n, err)
	}
	if es, _ := s.Enrollments(ctx(t), "ws_j", "prf_b"); len(es) != 1 || es[0].Version != 3 || es[0].Rev != 2 {
		t.Errorf("prf_b after migration: %+v", es)
	}

	// Erased, prf_b leaves the journey: the counters follow, and their rows are gone.
	if _, err := s.Erase(ctx(t), "ws_j", kenner.ErasePlan{ProfileIDs: []string{"prf_b"}}); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.Enrollments(ctx(t), "ws_j", "prf_b"); len(es) != 0 {
		t.Errorf("an erased person's enrollments: %+v", es)
	}
	if st, _ := s.JourneyStats(ctx(t), "ws_j", j.ID); st["w"]["waiting"] != 0 || st[""]["exited"] != 1 {
		t.Errorf("counters after the erasure: %v", st)
	}

	// Paused, nobody's timer is due.
	pub.Status = kenner.JourneyPaused
	if err := s.UpdateJourney(ctx(t), pub); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueEnrollments(ctx(t), now.Add(2*time.Hour), 10); len(due) != 0 {
		t.Errorf("due in a paused journey: %+v", due)
	}
	n, err := s.ArchiveJourney(ctx(t), "ws_j", j.ID, now)
	if err != nil || n != 1 {
		t.Fatalf("archive: %d %v, want prf_a taken out", n, err)
	}
	es, _ = s.Enrollments(ctx(t), "ws_j", "prf_a")
	if len(es) != 1 || es[0].State != kenner.EnrollmentExited {
		t.Errorf("after archive prf_a is %+v", es)
	}
	stats, _ = s.JourneyStats(ctx(t), "ws_j", j.ID)
	if stats[""]["exited"] != 2 || stats["w"]["waiting"] != 0 {
		t.Errorf("stats after archive %v", stats)
	}
	if err := s.DeleteJourney(ctx(t), "ws_j", j.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Journey(ctx(t), "ws_j", j.ID)
	wantCode(t, "deleted journey", err, kenner.ENotFound)
	if es, _ := s.Enrollments(ctx(t), "ws_j", "prf_a"); len(es) != 0 {
		t.Errorf("enrollments of a deleted journey: %+v", es)
	}
	js, _ := s.Journeys(ctx(t), "ws_j")
	if slices.ContainsFunc(js, func(x kenner.Journey) bool { return x.ID == j.ID }) {
		t.Error("a deleted journey is listed")
	}
}
