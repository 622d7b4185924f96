package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testDeleteWorkspace: deleting a workspace removes everything it owns (people, events,
// configuration, keys, queues, models with their versions) and nothing of another's; the
// workspace's id may then be used again, empty.
func testDeleteWorkspace(t *testing.T, s kenner.Store) {
	sc := newScenario(t, s) // workspace "ws" with three sources
	for _, ev := range [][]string{
		{"identify", "anon=a1", "user=amy", "email=amy@example.com"},
		{"track", "user=amy", "event=Order%20Completed"},
	} {
		if err := sc.send(ev[0], ev[1:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	fill := func(ws string) {
		t.Helper()
		if ws != "ws" {
			mustWorkspace(t, s, ws)
			if err := s.CreateSource(ctx(t), &kenner.Source{WorkspaceID: ws, Name: "web", WriteKeyHash: "key-" + ws}); err != nil {
				t.Fatal(err)
			}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.CreateToken(ctx(t), &kenner.Token{WorkspaceID: ws, Name: "t", Role: kenner.RoleOwner, Hash: "tok-" + ws}))
		must(s.CreateUser(ctx(t), &kenner.User{WorkspaceID: ws, Email: ws + "@example.com", Role: kenner.RoleOwner, PasswordHash: "h"}))
		_, err := s.PutSubjectKeys(ctx(t), ws, map[string][]byte{"s-" + ws: []byte("k")})
		must(err)
		d := &kenner.Destination{WorkspaceID: ws, Name: "hook", Type: "webhook"}
		must(s.CreateDestination(ctx(t), d))
		apply(t, s, func(c context.Context, b kenner.Batch) error {
			dl := delivery(d.ID, "k-"+ws, "u:"+ws, time.Now())
			dl.WorkspaceID = ws
			return b.Enqueue(c, []kenner.Delivery{dl})
		})
		m := &kenner.Model{WorkspaceID: ws, Name: "clv", Kind: kenner.ModelCLV, Event: "Order Completed", Status: kenner.ModelUntrained}
		must(s.CreateModel(ctx(t), m))
		must(s.AddModelVersion(ctx(t), ws, &kenner.ModelVersion{ModelID: m.ID, Version: 1, Status: kenner.ModelTrained, TrainedAt: time.Now().UTC()}))
	}
	fill("ws")
	fill("ws_keep")

	wantCode(t, "deleting an unknown workspace", s.DeleteWorkspace(ctx(t), "ws_nobody"), kenner.ENotFound)
	if err := s.DeleteWorkspace(ctx(t), "ws"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting it again", s.DeleteWorkspace(ctx(t), "ws"), kenner.ENotFound)
	wss, err := s.Workspaces(ctx(t))
	if err != nil || len(wss) != 1 || wss[0].ID != "ws_keep" {
		t.Fatalf("workspaces after deleting ws: %v %v", wss, err)
	}

	type counts struct{ sources, tokens, users, keys, destinations, deliveries, models, versions, events int }
	count := func(ws string) counts {
		t.Helper()
		var c counts
		srcs, _ := s.Sources(ctx(t), ws)
		toks, _ := s.Tokens(ctx(t), ws)
		users, _ := s.Users(ctx(t), ws)
		keys, _ := s.SubjectKeys(ctx(t), ws, []string{"s-" + ws})
		dests, _ := s.Destinations(ctx(t), ws)
		dels, _ := s.Deliveries(ctx(t), kenner.DeliveryFilter{WorkspaceID: ws, OrderKeys: []string{"u:" + ws}, Limit: 10})
		models, _ := s.Models(ctx(t), ws)
		c.sources, c.tokens, c.users, c.keys, c.destinations, c.deliveries, c.models = len(srcs), len(toks), len(users), len(keys), len(dests), len(dels), len(models)
		for _, m := range models {
			vs, _ := s.ModelVersions(ctx(t), ws, m.ID)
			c.versions += len(vs)
		}
		evs, _, _ := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: ws, Limit: 10})
		c.events = len(evs)
		return c
	}
	if got := count("ws"); got != (counts{}) {
		t.Errorf("left of the deleted workspace: %+v", got)
	}
	if got, want := count("ws_keep"), (counts{1, 1, 1, 1, 1, 1, 1, 1, 0}); got != want {
		t.Errorf("the other workspace: %+v, want %+v", got, want)
	}
	_, err = s.Profile(ctx(t), "ws", kenner.Identifier{Kind: kenner.KindUserID, Value: "amy"})
	wantCode(t, "amy's profile", err, kenner.ENotFound)
	if _, err := s.TokenByHash(ctx(t), "tok-ws"); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("the deleted workspace's token: %v", err)
	}
	if _, err := s.UserByEmail(ctx(t), "ws@example.com"); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("the deleted workspace's user: %v", err)
	}
	// The id is free again, and the new workspace starts empty.
	mustWorkspace(t, s, "ws")
	if got := count("ws"); got != (counts{}) {
		t.Errorf("a new workspace of the same id: %+v", got)
	}
}
