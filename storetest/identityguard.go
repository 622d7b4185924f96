package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testIdentityGuard: protect decisions are counted per identifier by distinct profile; a
// blocked identifier is listed per workspace, stays through ResetDerived, and an allowed one
// is not blocked again.
func testIdentityGuard(t *testing.T, s kenner.Store) {
	shop := kenner.Identifier{Kind: kenner.KindEmail, Value: "till@shop.example"}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var counted int
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		var ds []kenner.Decision
		for i, p := range []string{"p1", "p2", "p2", "p3"} { // p2 twice: counted once
			ds = append(ds, kenner.Decision{ProfileID: p, Action: kenner.DecisionProtect, Identifier: shop, MessageID: "m" + string(rune('0'+i)), Reason: "rule", At: at})
		}
		ds = append(ds, kenner.Decision{ProfileID: "p4", Action: kenner.DecisionMerge, Identifier: shop, MessageID: "m9", Reason: "merge", At: at})
		if err := b.AddDecisions(ctx, "ws", ds); err != nil {
			return err
		}
		var err error
		counted, err = b.ProtectedProfiles(ctx, "ws", shop)
		if err != nil {
			return err
		}
		return b.BlockIdentifier(ctx, "ws", kenner.BlockedIdentifier{Identifier: shop, Profiles: counted + 1, CreatedAt: at})
	})
	if counted != 3 {
		t.Errorf("protected profiles = %d, want 3 (distinct, protect decisions only)", counted)
	}
	list, err := s.BlockedIdentifiers(ctx(t), "ws")
	if err != nil || len(list) != 1 || list[0].Identifier != shop || list[0].Profiles != 4 || list[0].Allowed || !list[0].CreatedAt.Equal(at) {
		t.Fatalf("blocked %+v %v", list, err)
	}
	if other, _ := s.BlockedIdentifiers(ctx(t), "ws-other"); len(other) != 0 {
		t.Errorf("another workspace sees %v", other)
	}
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.AllowIdentifier(ctx(t), "ws", shop); err != nil {
		t.Fatal(err)
	}
	if err := s.AllowIdentifier(ctx(t), "ws", kenner.Identifier{Kind: "email", Value: "nobody@example.com"}); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("allowing what is not listed: %v", err)
	}
	apply(t, s, func(ctx context.Context, b kenner.Batch) error {
		return b.BlockIdentifier(ctx, "ws", kenner.BlockedIdentifier{Identifier: shop, Profiles: 9, CreatedAt: at.Add(time.Hour)})
	})
	if list, _ := s.BlockedIdentifiers(ctx(t), ""); len(list) != 1 || !list[0].Allowed || list[0].Profiles != 4 || list[0].WorkspaceID != "ws" {
		t.Errorf("after allowing and blocking again: %+v, want it allowed as it was", list)
	}
}
