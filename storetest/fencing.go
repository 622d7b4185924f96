package storetest

import (
	"context"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// testFencing: once a newer lease holder claimed a partition, a write under the older lease
// is refused and changes nothing; writes without a lease (a single node, epoch 0) are not
// fenced; the claim answers the position to resume from.
func testFencing(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	write := func(seq, epoch uint64, msgID string) error {
		return s.Apply(ctx(t), kenner.Position{Consumer: "c", Partition: 1, Seq: seq, Epoch: epoch}, func(c context.Context, b kenner.Batch) error {
			_, err := b.InsertEvents(c, []kenner.Event{event("ws", seq, 0, msgID, "u", "")})
			return err
		})
	}
	if pos, err := s.ClaimPosition(ctx(t), "c", 1, 10); err != nil || pos != 0 {
		t.Fatalf("first claim: %d %v", pos, err)
	}
	if err := write(5, 10, "m5"); err != nil {
		t.Fatal(err)
	}
	// A newer holder claims the partition and resumes where the old one stopped.
	if pos, err := s.ClaimPosition(ctx(t), "c", 1, 20); err != nil || pos != 5 {
		t.Fatalf("takeover claim: %d %v, want position 5", pos, err)
	}
	wantCode(t, "a write under the old lease", write(6, 10, "m6"), kenner.EFenced)
	if pos, _ := s.Position(ctx(t), "c", 1); pos != 5 {
		t.Errorf("position after the fenced write: %d, want 5", pos)
	}
	if evs, _, _ := s.Events(ctx(t), kenner.EventFilter{WorkspaceID: "ws", MessageID: "m6", Limit: 10}); len(evs) != 0 {
		t.Errorf("the fenced write stored its event: %v", evs)
	}
	_, err := s.ClaimPosition(ctx(t), "c", 1, 15)
	wantCode(t, "a claim under an older lease", err, kenner.EFenced)
	if err := write(6, 20, "m6"); err != nil {
		t.Fatalf("the new holder's write: %v", err)
	}
	// Partitions and consumers are fenced apart; epoch 0 is never fenced.
	if err := s.Apply(ctx(t), kenner.Position{Consumer: "c", Partition: 2, Seq: 1, Epoch: 1}, func(context.Context, kenner.Batch) error { return nil }); err != nil {
		t.Errorf("another partition: %v", err)
	}
	if err := write(7, 0, "m7"); err != nil {
		t.Errorf("a write without a lease: %v", err)
	}
}
