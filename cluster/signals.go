package cluster

import (
	"sync"

	natsgo "github.com/nats-io/nats.go"
)

// Signals carry wake-ups between the nodes of a deployment: a change made through one node
// (a segment saved, a journey published) wakes the job that acts on it on whichever node runs
// it (the leader). Without a connection they stay inside the process.
type Signals struct {
	nc      *natsgo.Conn
	subject string

	mu   sync.Mutex
	subs map[string][]func()
	sub  *natsgo.Subscription
}

// NewSignals sends and hears signals on subject.<name> of nc (nil: this process only).
func NewSignals(nc *natsgo.Conn, subject string) (*Signals, error) {
	s := &Signals{nc: nc, subject: subject, subs: map[string][]func(){}}
	if nc == nil {
		return s, nil
	}
	sub, err := nc.Subscribe(subject+".*", func(m *natsgo.Msg) {
		s.deliver(m.Subject[len(subject)+1:])
	})
	if err != nil {
		return nil, err
	}
	s.sub = sub
	return s, nil
}

// On calls fn whenever the signal name is sent, by this node or another.
func (s *Signals) On(name string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[name] = append(s.subs[name], fn)
}

// Send signals name to every node, this one included.
func (s *Signals) Send(name string) {
	if s.nc == nil || s.nc.Publish(s.subject+"."+name, nil) != nil {
		s.deliver(name) // at least this node hears it
	}
}

func (s *Signals) deliver(name string) {
	s.mu.Lock()
	fns := s.subs[name]
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Close stops hearing signals.
func (s *Signals) Close() {
	if s.sub != nil {
		s.sub.Unsubscribe()
	}
}

// Waker sends one signal on Wake (server.Waker).
type Waker struct {
	Signals *Signals
	Name    string
}

// Wake sends the signal.
func (w Waker) Wake() { w.Signals.Send(w.Name) }
