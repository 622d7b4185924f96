package groupcommit

import (
	"sync"
	"testing"
)

type req struct {
	n    int
	done chan struct{}
}

// TestEveryRequestIsCommittedOnce: many concurrent callers, each request in exactly one
// round, and rounds hold more than one request when callers pile up.
func TestEveryRequestIsCommittedOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	rounds := 0
	g := New(func(round []*req) {
		mu.Lock()
		rounds++
		for _, r := range round {
			seen[r.n]++
		}
		mu.Unlock()
		for _, r := range round {
			close(r.done)
		}
	})
	const callers = 200
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			r := &req{n: i, done: make(chan struct{})}
			g.Do(r, r.done)
		})
	}
	wg.Wait()
	if len(seen) != callers {
		t.Fatalf("%d requests committed, want %d", len(seen), callers)
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("request %d committed %d times", n, c)
		}
	}
	t.Logf("%d requests in %d rounds", callers, rounds)
}
