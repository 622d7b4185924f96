package storetest

import (
	"testing"

	"github.com/kenner-cdp/kenner"
)

// testIdentityOwners: identifiers answer the profile holding them, the survivor after a merge;
// unknown identifiers are absent; a scan pages through every identifier of the workspace once.
func testIdentityOwners(t *testing.T, s kenner.Store) {
	sc := newScenario(t, s)
	for _, ev := range [][]string{
		{"page", "anon=a1"},
		{"identify", "anon=a2", "user=amy"},
		{"identify", "anon=a1", "user=amy"}, // a1's profile merges into amy's
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
	bob, err := s.Profile(ctx(t), "ws", kenner.Identifier{Kind: "user_id", Value: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	id := func(k, v string) kenner.Identifier { return kenner.Identifier{Kind: k, Value: v} }
	got, err := s.IdentityOwners(ctx(t), "ws", []kenner.Identifier{id("anonymous_id", "a1"), id("anonymous_id", "a2"), id("user_id", "bob"),
		id("email", "bob@example.com"), id("user_id", "nobody")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[kenner.Identifier]string{id("anonymous_id", "a1"): amy.ID, id("anonymous_id", "a2"): amy.ID, id("user_id", "bob"): bob.ID, id("email", "bob@example.com"): bob.ID}
	if len(got) != len(want) {
		t.Errorf("owners %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("owner of %s: %q, want %q", k, got[k], v)
		}
	}
	if other, err := s.IdentityOwners(ctx(t), "ws_other", []kenner.Identifier{id("user_id", "bob")}); err != nil || len(other) != 0 {
		t.Errorf("another workspace: %v %v", other, err)
	}
	var all []kenner.IdentityOwner
	var after kenner.Identifier
	for {
		page, err := s.ScanIdentities(ctx(t), "ws", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Identifier
	}
	if len(all) != 5 {
		t.Fatalf("scanned %v, want the 5 identifiers", all)
	}
	for _, o := range all {
		if want[o.Identifier] != "" && want[o.Identifier] != o.ProfileID || o.Identifier == id("user_id", "amy") && o.ProfileID != amy.ID {
			t.Errorf("scanned %v", o)
		}
	}
}

// testEventBodies: stored events' bodies come back by their place in the log; other places and
// other workspaces' events do not.
func testEventBodies(t *testing.T, s kenner.Store) {
	sc := newScenario(t, s)
	for _, ev := range [][]string{{"page", "anon=a1"}, {"track", "user=amy", "event=Order%20Completed"}} {
		if err := sc.send(ev[0], ev[1:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	events, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", Limit: 10})
	if err != nil || len(events) != 2 {
		t.Fatalf("events %v %v", events, err)
	}
	var ranks []int64
	for _, e := range events {
		ranks = append(ranks, kenner.EventRank(e.Seq, e.Index))
	}
	got, err := s.EventBodies(ctx(t), "ws", append(ranks, kenner.EventRank(999999, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("bodies %v, want the 2 stored", got)
	}
	for i, e := range events {
		if string(got[ranks[i]]) != string(e.Body) {
			t.Errorf("body of %d: %s, want %s", ranks[i], got[ranks[i]], e.Body)
		}
	}
	if other, err := s.EventBodies(ctx(t), "ws_other", ranks); err != nil || len(other) != 0 {
		t.Errorf("another workspace: %v %v", other, err)
	}
}
