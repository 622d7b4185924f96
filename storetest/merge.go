package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testMergeChain merges p1 into p2 and p2 into p3 in one batch, after p0 was merged into p1
// in an earlier one: everything of p0, p1 and p2 ends on p3, as the merges one by one would
// have left it.
func testMergeChain(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ids := []string{"p0", "p1", "p2", "p3"}
	email := func(p string) kenner.Identifier {
		return kenner.Identifier{Kind: kenner.KindEmail, Value: p + "@example.com"}
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		var c kenner.GraphChanges
		c.Identities = map[string][]kenner.Identity{}
		var events []kenner.Event
		for i, p := range ids {
			c.Created = append(c.Created, kenner.GraphNode{ID: p, Rank: int64(i + 1)})
			c.Identities[p] = []kenner.Identity{{Identifier: email(p), SourceID: "src", MessageID: "m-" + p, Rank: int64(i + 1), At: at}}
			if p == "p0" || p == "p2" { // identified: they have a user id
				c.Identities[p] = append(c.Identities[p], kenner.Identity{Identifier: kenner.Identifier{Kind: kenner.KindUserID, Value: "u-" + p},
					SourceID: "src", MessageID: "m-" + p, Rank: int64(i + 1), At: at})
			}
			c.Decisions = append(c.Decisions, kenner.Decision{ProfileID: p, Action: kenner.DecisionMerge, From: "x", Identifier: email(p), MessageID: "m-" + p, Reason: "test", At: at})
			e := event("ws", uint64(i+1), 0, "m-"+p, "", "a-"+p)
			e.ProfileID = p
			events = append(events, e)
		}
		if err := b.WriteGraph(ctx, "ws", c); err != nil {
			return err
		}
		if _, err := b.InsertEvents(ctx, events); err != nil {
			return err
		}
		return b.WriteGraph(ctx, "ws", kenner.GraphChanges{Merges: []kenner.Merge{{Into: "p1", From: "p0"}}})
	})
	// p0's user id went to p1 with the merge: two live profiles are identified, p1 and p2.
	if n, err := s.CountIdentified(ctx(t), "ws"); err != nil || n != 2 {
		t.Errorf("CountIdentified before the chain = %d, %v; want 2", n, err)
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		return b.WriteGraph(ctx, "ws", kenner.GraphChanges{Merges: []kenner.Merge{{Into: "p2", From: "p1"}, {Into: "p3", From: "p2"}}})
	})
	if n, err := s.CountIdentified(ctx(t), "ws"); err != nil || n != 1 {
		t.Errorf("CountIdentified after the chain = %d, %v; want 1 (p3)", n, err)
	}
	for _, p := range ids {
		got, err := s.Profile(ctx(t), "ws", kenner.Identifier{Kind: kenner.KindProfileID, Value: p})
		if err != nil || got.ID != "p3" {
			t.Errorf("profile %s answers %v, %v; want p3", p, got, err)
		}
		if got, err := s.Profile(ctx(t), "ws", email(p)); err != nil || got.ID != "p3" {
			t.Errorf("profile of %s answers %v, %v; want p3", email(p), got, err)
		}
		// The state alone: the same profile, without its identities.
		full, _ := s.Profile(ctx(t), "ws", email(p))
		state, err := s.ProfileState(ctx(t), "ws", email(p))
		if err != nil || state.ID != "p3" || len(state.Identities) != 0 || state.Version != full.Version {
			t.Errorf("profile state of %s: %+v, %v", email(p), state, err)
		}
	}
	if _, err := s.ProfileState(ctx(t), "ws", kenner.Identifier{Kind: "email", Value: "nobody@example.com"}); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("profile state of no one: %v", err)
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		var all []kenner.Identifier
		for _, p := range ids {
			all = append(all, email(p))
		}
		g, err := b.LoadGraph(ctx, "ws", all)
		if err != nil {
			return err
		}
		if len(g.Profiles) != 1 || len(g.Profiles["p3"].Identifiers) != 6 {
			t.Errorf("graph after the chain: %+v, want p3 alone with 6 identifiers", g.Profiles)
		}
		return nil
	})
	events, _, err := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", ProfileID: "p3"})
	if err != nil || len(events) != 4 {
		t.Errorf("events of p3: %d, %v; want 4", len(events), err)
	}
	ds, _, err := s.Decisions(ctx(t), "ws", "p3", 0, 10)
	if err != nil || len(ds) != 4 {
		t.Errorf("decisions of p3: %d, %v; want 4", len(ds), err)
	}
}

// testMembershipFlips writes, in one batch, entries and exits of the same memberships: the
// members are what the events one by one would leave, and the history keeps every event.
func testMembershipFlips(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	seg := &kenner.Segment{WorkspaceID: "ws", Name: "All", Condition: "true"}
	if err := s.CreateSegment(ctx(t), seg); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	m := func(p string, entered bool, minute int) kenner.MembershipEvent {
		return kenner.MembershipEvent{SegmentID: seg.ID, ProfileID: p, Entered: entered, At: at.Add(time.Duration(minute) * time.Minute)}
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		return b.WriteMemberships(ctx, "ws", []kenner.MembershipEvent{m("stays", true, 0), m("leaves", true, 0), m("returns", true, 0)})
	})
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		return b.WriteMemberships(ctx, "ws", []kenner.MembershipEvent{
			m("leaves", false, 1),
			m("returns", false, 1), m("returns", true, 2),
			m("new", true, 3), m("new", false, 4),
			m("again", true, 5), m("again", false, 6), m("again", true, 7), m("again", true, 8),
		})
	})
	page, _, err := s.SegmentMembers(ctx(t), "ws", seg.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, p := range page {
		got[p.ProfileID] = p.Since
	}
	want := map[string]time.Time{"stays": at, "returns": at.Add(2 * time.Minute), "again": at.Add(7 * time.Minute)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	hist, _, err := s.MembershipHistory(ctx(t), "ws", "again", 0, 10)
	if err != nil || len(hist) != 4 || !hist[0].At.Equal(at.Add(8*time.Minute)) || hist[1].Entered == hist[2].Entered {
		t.Errorf("history of again = %+v, %v; want its 4 events, newest first", hist, err)
	}
}

// testDefinitionsWaitForProcessing: a definitions change does not commit while a processing
// transaction that read the definitions version is open, so that no batch evaluated with the
// old definitions lands after a build of the new ones has started reading profiles.
func testDefinitionsWaitForProcessing(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	read, release := make(chan struct{}), make(chan struct{})
	applied := make(chan error, 1)
	go func() {
		applied <- s.Apply(ctx(t), kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
			if _, err := b.DefinitionsVersion(ctx, "ws"); err != nil {
				return err
			}
			close(read)
			<-release
			return nil
		})
	}()
	<-read
	created := make(chan error, 1)
	go func() {
		created <- s.CreateSegment(ctx(t), &kenner.Segment{WorkspaceID: "ws", Name: "new", Condition: "true"})
	}()
	select {
	case err := <-created:
		close(release)
		t.Fatalf("a segment was created (%v) while a transaction that read the definitions was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
}
