package storetest

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/prometheus/client_golang/prometheus"
)

// testErase builds two people through the processor, erases one, and checks that nothing of
// them is left (profile, identities, events, memberships, changes, deliveries, log keys) while
// the other is untouched and the suppression list holds the given hashes.
func testErase(t *testing.T, s kenner.Store) {
	sc := newScenario(t, s)
	for _, ev := range [][]string{
		{"page", "anon=a1"},
		{"identify", "anon=a1", "user=amy", "email=amy@example.com"},
		{"identify", "anon=a2", "user=amy"}, // a second device merges in
		{"track", "user=amy", "event=Order%20Completed"},
		{"identify", "user=bob", "email=bob@example.com"},
	} {
		if err := sc.send(ev[0], ev[1:]); err != nil {
			t.Fatal(err)
		}
		if err := sc.flush(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	amy, err := s.Profile(ctx(t), "ws", kenner.Identifier{Kind: "user_id", Value: "amy"})
	if err != nil {
		t.Fatal(err)
	}
	ids, idents, err := s.ProfileFootprint(ctx(t), "ws", amy.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []kenner.Identifier{{Kind: "anonymous_id", Value: "a1"}, {Kind: "anonymous_id", Value: "a2"},
		{Kind: "email", Value: "amy@example.com"}, {Kind: "user_id", Value: "amy"}}
	if !slices.Equal(idents, want) || !slices.Contains(ids, amy.ID) {
		t.Fatalf("footprint %v %v, want %v with %s", ids, idents, want, amy.ID)
	}
	_, _, err = s.ProfileFootprint(ctx(t), "ws", "prf_nobody")
	wantCode(t, "footprint of nobody", err, kenner.ENotFound)

	if _, err := s.PutSubjectKeys(ctx(t), "ws", map[string][]byte{"s-amy": []byte("k1"), "s-bob": []byte("k2")}); err != nil {
		t.Fatal(err)
	}
	// A second writer of the same subject gets the first key.
	got, err := s.PutSubjectKeys(ctx(t), "ws", map[string][]byte{"s-amy": []byte("other")})
	if err != nil || string(got["s-amy"]) != "k1" {
		t.Fatalf("PutSubjectKeys again = %q %v, want the first key", got, err)
	}
	d := &kenner.Destination{WorkspaceID: "ws", Name: "hook", Type: "webhook"}
	if err := s.CreateDestination(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	apply(t, s, func(c context.Context, b kenner.Batch) error {
		return b.Enqueue(c, []kenner.Delivery{
			delivery(d.ID, "k-amy-event", "u:amy", now), delivery(d.ID, "k-amy-change", amy.ID, now),
			delivery(d.ID, "k-bob", "u:bob", now)})
	})

	removed, err := s.Erase(ctx(t), "ws", kenner.ErasePlan{ProfileIDs: ids, Identifiers: idents,
		SubjectKeys: []string{"s-amy"}, Suppress: []kenner.Suppression{{Kind: "email", Hash: "h-amy-email"}, {Kind: "user_id", Hash: "h-amy-user"}}})
	if err != nil {
		t.Fatal(err)
	}
	if removed["profiles"] < 1 || removed["events"] != 4 || removed["identities"] != 4 || removed["deliveries"] != 2 || removed["subject_keys"] != 1 {
		t.Errorf("removed %v: want the profile, 4 events, 4 identities, 2 deliveries, 1 key", removed)
	}
	for _, id := range want {
		_, err := s.Profile(ctx(t), "ws", id)
		wantCode(t, "profile by "+id.Kind, err, kenner.ENotFound)
	}
	_, err = s.Profile(ctx(t), "ws", kenner.Identifier{Kind: "id", Value: amy.ID})
	wantCode(t, "profile by id", err, kenner.ENotFound)
	if evs, _, _ := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", Limit: 100}); len(evs) != 1 || evs[0].UserID != "bob" {
		t.Errorf("events left %v: want only bob's", evs)
	}
	if _, err := s.Profile(ctx(t), "ws", kenner.Identifier{Kind: "email", Value: "bob@example.com"}); err != nil {
		t.Errorf("bob: %v", err)
	}
	leftKeys, _ := s.SubjectKeys(ctx(t), "ws", []string{"s-amy", "s-bob"})
	if _, ok := leftKeys["s-amy"]; ok || string(leftKeys["s-bob"]) != "k2" {
		t.Errorf("keys after erasure %v: want only bob's", leftKeys)
	}
	left, _ := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: d.ID, Limit: 10})
	if len(left) != 1 || left[0].Key != "k-bob" {
		t.Errorf("deliveries left %v: want bob's", keys(left))
	}
	if byPerson, _ := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: "ws", OrderKeys: []string{"u:bob", "u:amy"}, Limit: 10}); len(byPerson) != 1 || byPerson[0].Key != "k-bob" {
		t.Errorf("deliveries of u:bob and u:amy across destinations: %v, want bob's", keys(byPerson))
	}
	sup, last, err := s.Suppressions(ctx(t), 0, 10)
	if err != nil || len(sup) != 2 || sup[0].WorkspaceID != "ws" || last != sup[1].Seq {
		t.Errorf("suppressions %v %d %v", sup, last, err)
	}
	// Suppressing again adds nothing.
	if _, err := s.Erase(ctx(t), "ws", kenner.ErasePlan{ProfileIDs: ids, Suppress: []kenner.Suppression{{Kind: "email", Hash: "h-amy-email"}}}); err != nil {
		t.Fatal(err)
	}
	if more, _, _ := s.Suppressions(ctx(t), last, 10); len(more) != 0 {
		t.Errorf("suppressed twice: %v", more)
	}
	// A workspace's list, newest first, paged; another workspace's is apart.
	if _, err := s.Erase(ctx(t), "ws-other", kenner.ErasePlan{Suppress: []kenner.Suppression{{Kind: "email", Hash: "h-other"}}}); err != nil {
		t.Fatal(err)
	}
	page, next, err := s.WorkspaceSuppressions(ctx(t), "ws", 0, 1)
	if err != nil || len(page) != 1 || page[0].Hash != "h-amy-user" || page[0].Kind != "user_id" || page[0].CreatedAt.IsZero() || next == 0 {
		t.Errorf("first page of ws's suppressions: %+v next %d %v", page, next, err)
	}
	page, next, err = s.WorkspaceSuppressions(ctx(t), "ws", next, 1)
	if err != nil || len(page) != 1 || page[0].Hash != "h-amy-email" || page[0].Kind != "email" || next != 0 {
		t.Errorf("last page of ws's suppressions: %+v next %d %v", page, next, err)
	}
	// Lifting one lets it in again; lifting what is not there is not found.
	if err := s.LiftSuppression(ctx(t), "ws", "h-amy-email"); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftSuppression(ctx(t), "ws", "h-amy-email"); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("lifting twice: %v, want not found", err)
	}
	if err := s.LiftSuppression(ctx(t), "ws", "h-other"); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("lifting another workspace's: %v, want not found", err)
	}
	if page, _, _ := s.WorkspaceSuppressions(ctx(t), "ws", 0, 10); len(page) != 1 || page[0].Hash != "h-amy-user" {
		t.Errorf("after lifting: %+v", page)
	}

	e := &kenner.Erasure{ID: "era_1", WorkspaceID: "ws", ProfileID: amy.ID, Status: kenner.ErasurePending, RequestedBy: "tok_1", CreatedAt: now.UTC().Truncate(time.Millisecond)}
	if err := s.SaveErasure(ctx(t), e); err != nil {
		t.Fatal(err)
	}
	e.Status, e.Removed = kenner.ErasureDone, removed
	if err := s.SaveErasure(ctx(t), e); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Erasure(ctx(t), "ws", "era_1"); err != nil || got.Status != kenner.ErasureDone || got.Removed["events"] != 4 {
		t.Errorf("erasure %+v %v", got, err)
	}
	_, err = s.Erasure(ctx(t), "other", "era_1")
	wantCode(t, "erasure of another workspace", err, kenner.ENotFound)
	// The list: newest first, paged by cursor, two at the same millisecond apart by id.
	for i, id := range []string{"era_2", "era_3", "era_4"} {
		at := e.CreatedAt.Add(time.Duration(min(i, 1)) * time.Second)
		if err := s.SaveErasure(ctx(t), &kenner.Erasure{ID: id, WorkspaceID: "ws", ProfileID: "p", Status: kenner.ErasurePending, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	var listed []string
	for cursor := ""; ; {
		page, err := s.Erasures(ctx(t), "ws", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			listed = append(listed, e.ID)
		}
		if len(page) < 2 {
			break
		}
		cursor = kenner.ErasureCursor(page[len(page)-1])
	}
	if want := []string{"era_4", "era_3", "era_2", "era_1"}; !slices.Equal(listed, want) {
		t.Errorf("erasures %v, want %v", listed, want)
	}
	if other, _ := s.Erasures(ctx(t), "other", "", 10); len(other) != 0 {
		t.Errorf("another workspace's erasures: %v", other)
	}
	if _, err := s.Erasures(ctx(t), "ws", "junk", 10); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("bad cursor: %v", err)
	}
}

func testAudit(t *testing.T, s kenner.Store) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, a := range []string{"POST /v1/segments", "DELETE /v1/profiles/{ref}", "POST /v1/segments"} {
		e := &kenner.AuditEntry{WorkspaceID: "ws", At: at.Add(time.Duration(i) * time.Second), Actor: "tok_a", Role: kenner.RoleAdmin,
			Action: a, Target: "x", Status: 200, RemoteAddr: "127.0.0.1"}
		if err := s.AppendAudit(ctx(t), e); err != nil || e.ID == 0 {
			t.Fatalf("append: %v (id %d)", err, e.ID)
		}
	}
	if err := s.AppendAudit(ctx(t), &kenner.AuditEntry{WorkspaceID: "other", At: at, Actor: "tok_b", Action: "GET /v1/tokens"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Audit(ctx(t), kenner.AuditFilter{WorkspaceID: "ws", Limit: 10})
	if err != nil || len(all) != 3 || all[0].Action != "POST /v1/segments" || !all[0].At.Equal(at.Add(2*time.Second)) || all[0].Role != kenner.RoleAdmin {
		t.Fatalf("audit %+v %v: want 3, newest first", all, err)
	}
	page, _ := s.Audit(ctx(t), kenner.AuditFilter{WorkspaceID: "ws", Before: all[0].ID, Limit: 1})
	if len(page) != 1 || page[0].ID != all[1].ID {
		t.Errorf("page before %d: %+v", all[0].ID, page)
	}
	byAction, _ := s.Audit(ctx(t), kenner.AuditFilter{WorkspaceID: "ws", Action: "POST /v1/segments", Limit: 10})
	none, _ := s.Audit(ctx(t), kenner.AuditFilter{WorkspaceID: "ws", Actor: "tok_b", Limit: 10})
	if len(byAction) != 2 || len(none) != 0 {
		t.Errorf("by action %d, other workspace's actor %d", len(byAction), len(none))
	}
}

// testRetention runs the retention job's rules against the store: the most specific rule an
// event falls under decides, every workspace is covered, and the audit log has its own rule.
func testRetention(t *testing.T, s kenner.Store) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	mustWorkspace(t, s, "ws")
	mustWorkspace(t, s, "ws2")
	var events []kenner.Event
	add := func(ws, msgID, typ, name string, age time.Duration) {
		e := event(ws, uint64(len(events)+1), 0, msgID, "u", "")
		e.Type, e.Name, e.Timestamp = typ, name, now.Add(-age)
		events = append(events, e)
	}
	day := 24 * time.Hour
	add("ws", "page-old", kenner.TypePage, "Home", 400*day)
	add("ws", "page-new", kenner.TypePage, "Home", 10*day)
	add("ws", "order-old", kenner.TypeTrack, "Order Completed", 800*day)
	add("ws", "debug-old", kenner.TypeTrack, "Debug", 40*day)
	add("ws", "identify-old", kenner.TypeIdentify, "", 800*day)
	add("ws", "identify-new", kenner.TypeIdentify, "", 700*day)
	add("ws2", "other-old", kenner.TypeIdentify, "", 800*day)
	if _, err := AppendEvents(s, ctx(t), kenner.Position{}, events); err != nil {
		t.Fatal(err)
	}
	for i, age := range []time.Duration{400 * day, day} {
		if err := s.AppendAudit(ctx(t), &kenner.AuditEntry{WorkspaceID: "ws", At: now.Add(-age), Actor: "tok", Action: "POST /v1/segments", Target: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := privacy.ParseRetention(map[string]string{"events": "760d", "type:page": "395d", "event:Debug": "30d",
		"event:Order Completed": "2555d", "audit": "365d"})
	if err != nil {
		t.Fatal(err)
	}
	job := privacy.NewRetention(s, rules, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	job.Now = func() time.Time { return now }
	got, err := job.RunOnce(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"events": 2, "type:page": 1, "event:Debug": 1, "event:Order Completed": 0, "audit": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deleted %v, want %v", got, want)
	}
	for ws, left := range map[string]string{"ws": "identify-new,order-old,page-new", "ws2": ""} {
		es, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: ws, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range es {
			ids = append(ids, e.MessageID)
		}
		if strings.Join(ids, ",") != left {
			t.Errorf("%s keeps %v, want %s (newest in the log first)", ws, ids, left)
		}
	}
	if a, _ := s.Audit(ctx(t), kenner.AuditFilter{WorkspaceID: "ws", Limit: 10}); len(a) != 1 || a[0].Target != "1" {
		t.Errorf("audit keeps %+v, want the recent entry", a)
	}
	if again, err := job.RunOnce(ctx(t)); err != nil || again["events"]+again["type:page"]+again["audit"] != 0 {
		t.Errorf("second pass deleted %v %v, want nothing", again, err)
	}
}
