// Package groupcommit runs concurrent requests in rounds, for work where one commit costs far
// more than one item in it (SQLite's single writer, the creation of subject keys): the first
// caller to find no round running commits everything queued, round after round until nothing
// waits, while the others wait for the round that holds their request.
package groupcommit

import "sync"

// Group queues requests of type R for its commit function.
type Group[R any] struct {
	mu     sync.Mutex
	queue  []R
	slot   chan struct{} // held by the caller committing rounds (the leader)
	commit func(round []R)
}

// New returns a Group whose rounds commit runs. commit must finish every request of the
// round it is given: Do returns when the request's done channel is closed.
func New[R any](commit func(round []R)) *Group[R] {
	return &Group[R]{slot: make(chan struct{}, 1), commit: commit}
}

// Do queues r and returns once the round holding it has closed done.
func (g *Group[R]) Do(r R, done <-chan struct{}) {
	g.mu.Lock()
	g.queue = append(g.queue, r)
	g.mu.Unlock()
	select {
	case g.slot <- struct{}{}:
		// Leader: commit until the queue is empty, so that nothing queued waits for a caller
		// that has already returned.
		for {
			g.mu.Lock()
			round := g.queue
			g.queue = nil
			g.mu.Unlock()
			if len(round) == 0 {
				break
			}
			g.commit(round)
		}
		<-g.slot
	case <-done:
	}
	<-done
}
