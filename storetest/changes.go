package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testChangesFollowed has concurrent transactions append to the changes stream while a
// consumer follows it by seq, as activation does. The consumer must see every change exactly
// once: a change that commits after a later seq was read would be skipped for good.
func testChangesFollowed(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	const writers, batches, perBatch = 4, 25, 3
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := range batches {
				err := s.Apply(ctx(t), kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
					cs := make([]kenner.Change, perBatch)
					for i := range cs {
						cs[i] = kenner.Change{WorkspaceID: "ws", Type: kenner.ChangeProfileUpdated,
							ProfileID: fmt.Sprintf("w%d-%d-%d", w, n, i), At: at}
					}
					if err := b.AddChanges(ctx, cs); err != nil {
						return err
					}
					// Work after the changes (as the processor saves profiles and events after
					// evaluating segments) widens the window in which a later transaction could
					// commit first.
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	var after int64
	follow := func() {
		for {
			cs, err := s.Changes(ctx(t), after, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				seen[c.ProfileID]++
				after = c.Seq
			}
			if len(cs) < 50 {
				return
			}
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Millisecond):
		}
		follow()
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	follow()
	if len(seen) != writers*batches*perBatch {
		t.Errorf("the consumer saw %d of %d changes", len(seen), writers*batches*perBatch)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("change %s seen %d times", id, n)
		}
	}
}
