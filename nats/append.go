package nats

import (
	"context"
	"fmt"
	"sync"

	"github.com/kenner-cdp/kenner"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// appender implements group commit: Append queues its events and waits; one flusher publishes
// everything queued as few, large records (one per workspace, source and partition) and
// wakes every waiter once the log has acknowledged them. While a round is being acknowledged
// the next one fills up, so many small concurrent requests cost a handful of appends, and a
// lone request is published at once.
type appender struct {
	log  *Log
	mu   sync.Mutex
	cond *sync.Cond
	// pending groups in arrival order; index finds a group by its key.
	pending []*group
	index   map[groupKey]*group
	closed  bool
	done    chan struct{}
}

type groupKey struct {
	workspace, source string
	partition         int
}

type group struct {
	key     groupKey
	events  [][]byte
	waiters []*waiter
}

// waiter is one Append call, done when every group holding its events is acknowledged.
type waiter struct {
	remaining int
	err       error
	done      chan struct{}
}

func newAppender(l *Log) *appender {
	a := &appender{log: l, index: map[groupKey]*group{}, done: make(chan struct{})}
	a.cond = sync.NewCond(&a.mu)
	go a.run()
	return a
}

func (a *appender) append(ctx context.Context, batches []kenner.LogBatch) error {
	w := &waiter{done: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return kenner.Errorf(kenner.EUnavailable, "event log is shutting down")
	}
	for _, b := range batches {
		if len(b.Events) == 0 {
			continue
		}
		k := groupKey{b.WorkspaceID, b.SourceID, b.Partition}
		g := a.index[k]
		if g == nil {
			g = &group{key: k}
			a.index[k] = g
			a.pending = append(a.pending, g)
		}
		g.events = append(g.events, b.Events...)
		if len(g.waiters) == 0 || g.waiters[len(g.waiters)-1] != w {
			g.waiters = append(g.waiters, w)
			w.remaining++
		}
	}
	if w.remaining == 0 {
		a.mu.Unlock()
		return nil
	}
	a.cond.Signal()
	a.mu.Unlock()
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return fmt.Errorf("append: %w", ctx.Err())
	}
}

// maxRoundsInFlight is how many published rounds may await their acknowledgements at once.
// JetStream stores and acknowledges the messages of one connection in order, so a later round
// is never acknowledged before an earlier one; pipelining only hides the round trip.
const maxRoundsInFlight = 4

// published is a round whose messages are sent and whose acknowledgements are awaited.
type published struct {
	groups  []*group
	futures [][]jetstream.PubAckFuture
	errs    []error
}

func (a *appender) run() {
	inFlight := make(chan published, maxRoundsInFlight)
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		for p := range inFlight {
			a.settle(p)
		}
	}()
	defer func() {
		close(inFlight)
		<-settled
		close(a.done)
	}()
	for {
		a.mu.Lock()
		for len(a.pending) == 0 && !a.closed {
			a.cond.Wait()
		}
		if len(a.pending) == 0 && a.closed {
			a.mu.Unlock()
			return
		}
		round := a.pending
		a.pending = nil
		clear(a.index)
		a.mu.Unlock()
		inFlight <- a.publish(round)
	}
}

// publish sends a round asynchronously: one record per group, or more when a group is larger
// than a record may be.
func (a *appender) publish(round []*group) published {
	p := published{groups: round, futures: make([][]jetstream.PubAckFuture, len(round)), errs: make([]error, len(round))}
	for i, g := range round {
		for _, chunk := range chunkEvents(g.events, maxRecordBytes) {
			msg := natsgo.NewMsg(a.log.subject(g.key.partition))
			msg.Header.Set(headerWorkspace, g.key.workspace)
			msg.Header.Set(headerSource, g.key.source)
			msg.Header.Set(headerFormat, formatFrames)
			msg.Data = encodeFrames(chunk)
			f, err := a.log.js.PublishMsgAsync(msg)
			if err != nil {
				p.errs[i] = kenner.Errorf(kenner.EUnavailable, "event log unavailable: %v", err)
				break
			}
			p.futures[i] = append(p.futures[i], f)
		}
	}
	return p
}

// settle waits for a round's acknowledgements and wakes each waiter once all of its groups
// are settled, with the first error any of them met.
func (a *appender) settle(p published) {
	for i, g := range p.groups {
		err := p.errs[i]
		for _, f := range p.futures[i] {
			select {
			case <-f.Ok():
			case e := <-f.Err():
				if err == nil {
					err = kenner.Errorf(kenner.EUnavailable, "event log append failed: %v", e)
				}
			}
		}
		for _, w := range g.waiters {
			if err != nil && w.err == nil {
				w.err = err
			}
			w.remaining--
			if w.remaining == 0 {
				close(w.done)
			}
		}
	}
}

// close stops accepting appends, flushes what is queued and stops the flusher.
func (a *appender) close() {
	a.mu.Lock()
	a.closed = true
	a.cond.Signal()
	a.mu.Unlock()
	<-a.done
}

// chunkEvents splits events into groups whose framed size stays under max. A single event is
// never split (ingestion limits events to 32 KB).
func chunkEvents(events [][]byte, max int) [][][]byte {
	var out [][][]byte
	start, size := 0, 0
	for i, e := range events {
		n := len(e) + 5
		if size+n > max && i > start {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(events) || len(events) == 0 {
		out = append(out, events[start:])
	}
	return out
}
