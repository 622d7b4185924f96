// Package cluster shares the log's partitions, and the jobs one node must run alone, among
// the nodes of a deployment, with leases in a JetStream key-value bucket: no consensus of our
// own. Each node announces itself under "node.<id>"; the live nodes, sorted, deal the
// partitions out round-robin, so every node computes the same even assignment. A node holds a
// partition while it keeps rewriting "part.<n>" (the bucket's TTL ends a lease that is not
// renewed: a dead node's partitions are free again after it), and the revision at which it
// created the key is its fencing token: the store refuses writes under an older one
// (kenner.EFenced), so a node paused past its lease cannot write when it resumes. A node that
// cannot renew for most of the TTL stops its work by itself, before others may take it.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Worker runs a partition the node holds under lease epoch, until ctx ends or it fails
// (a fenced write: the lease was lost).
type Worker func(ctx context.Context, partition int, epoch uint64) error

// Config configures a node.
type Config struct {
	KV         jetstream.KeyValue // the leases bucket (nats.Log.Leases), its TTL = TTL
	Node       string             // this node's id, unique per process
	Addr       string             // where it serves, shown in the cluster's status
	Partitions int
	TTL        time.Duration // lease time: the bucket's TTL (default 6 s)
	Work       Worker        // a held partition's work
	// Leader runs, on one node at a time, the jobs that must not run twice (scheduled
	// sweeps, retention, timers), until ctx ends; nil: none.
	Leader func(ctx context.Context)
	Logger *slog.Logger
}

// Member is a live node as the bucket lists it.
type Member struct {
	ID     string    `json:"id"`
	Addr   string    `json:"addr"`
	Since  time.Time `json:"since"`
	Held   []int     `json:"partitions"`
	Leader bool      `json:"leader"`
	Self   bool      `json:"self,omitempty"`
}

// Node takes part in sharing the partitions.
type Node struct {
	cfg   Config
	since time.Time

	mu      sync.Mutex
	held    map[int]*lease // partitions this node works on
	leader  *lease
	lastOK  time.Time // the last round that renewed everything held
	members []Member  // as the last round saw them
	fenced  int       // leases given up after a fenced write, since start
}

type lease struct {
	key   string
	rev   uint64 // the key's latest revision (renewals move it)
	epoch uint64 // its revision when this node created it: the fencing token
	stop  context.CancelFunc
	done  chan struct{}
	err   error // why the work ended on its own
}

// New returns a node; Run makes it take part.
func New(cfg Config) *Node {
	if cfg.TTL <= 0 {
		cfg.TTL = 6 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{cfg: cfg, since: time.Now().UTC(), held: map[int]*lease{}}
}

// tick is how often a node renews its leases and looks at the others.
func (n *Node) tick() time.Duration { return n.cfg.TTL / 6 }

// Run takes part until ctx ends, then stops its work and gives its leases back, so that the
// other nodes take them over at once rather than after the TTL.
func (n *Node) Run(ctx context.Context) error {
	t := time.NewTicker(n.tick())
	defer t.Stop()
	for {
		n.round(ctx)
		select {
		case <-ctx.Done():
			n.leave()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// round renews this node's leases, works out the assignment from the live nodes, gives back
// what is no longer this node's and takes what is.
func (n *Node) round(ctx context.Context) {
	// A round never outlasts a tick, so that a node cut off from the bucket stops its work
	// (below) within TTL/2 + 2 ticks of its last renewal: before the leases can expire.
	ctx, cancel := context.WithTimeout(ctx, n.tick())
	defer cancel()
	ok := n.announce(ctx) == nil
	ok = n.renew(ctx) && ok
	now := time.Now()
	n.mu.Lock()
	if ok {
		n.lastOK = now
	}
	// Cut off from the bucket for most of the TTL: the leases may expire any moment and
	// another node take the partitions, so stop first (the store's fencing is the backstop).
	if !n.lastOK.IsZero() && now.Sub(n.lastOK) > n.cfg.TTL/2 && (len(n.held) > 0 || n.leader != nil) {
		n.cfg.Logger.Warn("cluster: leases not renewed; stopping work until the bucket is reachable", "since", n.lastOK)
		held, leader := n.held, n.leader
		n.held, n.leader = map[int]*lease{}, nil
		n.mu.Unlock()
		for _, l := range held {
			l.halt()
		}
		if leader != nil {
			leader.halt()
		}
		return
	}
	n.mu.Unlock()
	if !ok {
		return
	}
	members, err := n.liveMembers(ctx)
	if err != nil {
		n.cfg.Logger.Warn("cluster: listing nodes", "err", err)
		return
	}
	mine := Assign(members, n.cfg.Partitions)[n.cfg.Node]
	n.mu.Lock()
	var release []int
	for p := range n.held {
		if !slices.Contains(mine, p) {
			release = append(release, p)
		}
	}
	n.mu.Unlock()
	for _, p := range release {
		n.release(ctx, p)
	}
	for _, p := range mine {
		n.mu.Lock()
		_, have := n.held[p]
		n.mu.Unlock()
		if !have {
			n.acquire(ctx, p)
		}
	}
	n.elect(ctx)
	n.refreshMembers(ctx, members)
}

func partKey(p int) string { return "part." + strconv.Itoa(p) }

func (n *Node) memberKey() string { return "node." + n.cfg.Node }

// announce writes this node's membership (its TTL is the bucket's).
func (n *Node) announce(ctx context.Context) error {
	n.mu.Lock()
	m := Member{ID: n.cfg.Node, Addr: n.cfg.Addr, Since: n.since, Leader: n.leader != nil}
	for p := range n.held {
		m.Held = append(m.Held, p)
	}
	n.mu.Unlock()
	slices.Sort(m.Held)
	b, _ := json.Marshal(m)
	_, err := n.cfg.KV.Put(ctx, n.memberKey(), b)
	if err != nil {
		n.cfg.Logger.Warn("cluster: announcing this node", "err", err)
	}
	return err
}

// renew rewrites every held lease at its known revision; a lease whose key moved on (it
// expired, or another node took it) is lost and its work stops. A work that ended on its own
// gives its lease back.
func (n *Node) renew(ctx context.Context) bool {
	n.mu.Lock()
	leases := make(map[int]*lease, len(n.held))
	for p, l := range n.held {
		leases[p] = l
	}
	leader := n.leader
	n.mu.Unlock()
	ok := true
	for p, l := range leases {
		if l.ended() {
			n.cfg.Logger.Warn("cluster: the partition's work stopped; giving its lease back", "partition", p, "err", l.err)
			n.mu.Lock()
			n.fenced++
			n.mu.Unlock()
			n.release(ctx, p)
			continue
		}
		if err := n.renewOne(ctx, l); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || isWrongSequence(err) {
				n.cfg.Logger.Warn("cluster: lost the lease on a partition", "partition", p, "err", err)
				n.mu.Lock()
				delete(n.held, p)
				n.mu.Unlock()
				l.halt()
				continue
			}
			ok = false
		}
	}
	if leader != nil {
		if err := n.renewOne(ctx, leader); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || isWrongSequence(err) {
				n.mu.Lock()
				n.leader = nil
				n.mu.Unlock()
				leader.halt()
			} else {
				ok = false
			}
		}
	}
	return ok
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (n *Node) renewOne(ctx context.Context, l *lease) error {
	rev, err := n.cfg.KV.Update(ctx, l.key, []byte(n.cfg.Node), l.rev)
	if err != nil {
		return err
	}
	n.mu.Lock()
	l.rev = rev
	n.mu.Unlock()
	return nil
}

// acquire takes a free partition: creates its key (only when absent) and starts its work
// under the new revision.
func (n *Node) acquire(ctx context.Context, p int) {
	rev, err := n.cfg.KV.Create(ctx, partKey(p), []byte(n.cfg.Node))
	if err != nil {
		return // held by another node still: it gives it back, or its lease runs out
	}
	l := n.start(partKey(p), rev, func(ctx context.Context) error { return n.cfg.Work(ctx, p, rev) })
	n.mu.Lock()
	n.held[p] = l
	n.mu.Unlock()
	n.cfg.Logger.Info("cluster: took a partition", "partition", p, "epoch", rev)
}

// elect makes this node the leader when no node is.
func (n *Node) elect(ctx context.Context) {
	if n.cfg.Leader == nil {
		return
	}
	n.mu.Lock()
	have := n.leader != nil
	n.mu.Unlock()
	if have {
		return
	}
	rev, err := n.cfg.KV.Create(ctx, "leader", []byte(n.cfg.Node))
	if err != nil {
		return
	}
	l := n.start("leader", rev, func(ctx context.Context) error { n.cfg.Leader(ctx); return nil })
	n.mu.Lock()
	n.leader = l
	n.mu.Unlock()
	n.cfg.Logger.Info("cluster: this node runs the jobs that run once (leader)")
}

func (n *Node) start(key string, rev uint64, run func(ctx context.Context) error) *lease {
	ctx, stop := context.WithCancel(context.Background())
	l := &lease{key: key, rev: rev, epoch: rev, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		if err := run(ctx); err != nil && ctx.Err() == nil {
			l.err = err
		}
	}()
	return l
}

// halt stops a lease's work and waits for it.
func (l *lease) halt() {
	l.stop()
	<-l.done
}

func (l *lease) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// release stops a partition's work, then deletes its key (at the revision this node wrote
// last, so never another node's), freeing it for its new owner at once.
func (n *Node) release(ctx context.Context, p int) {
	n.mu.Lock()
	l := n.held[p]
	delete(n.held, p)
	n.mu.Unlock()
	if l == nil {
		return
	}
	l.halt()
	if err := n.cfg.KV.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
		n.cfg.Logger.Debug("cluster: giving a lease back", "partition", p, "err", err)
	}
	n.cfg.Logger.Info("cluster: gave a partition back", "partition", p)
}

// leave stops all work and gives every lease and the membership back.
func (n *Node) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.mu.Lock()
	var parts []int
	for p := range n.held {
		parts = append(parts, p)
	}
	leader := n.leader
	n.leader = nil
	n.mu.Unlock()
	for _, p := range parts {
		n.release(ctx, p)
	}
	if leader != nil {
		leader.halt()
		n.cfg.KV.Delete(ctx, leader.key, jetstream.LastRevision(leader.rev))
	}
	n.cfg.KV.Delete(ctx, n.memberKey())
}

// liveMembers lists the nodes whose membership has not expired.
func (n *Node) liveMembers(ctx context.Context) ([]string, error) {
	lister, err := n.cfg.KV.ListKeysFiltered(ctx, "node.*")
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, strings.TrimPrefix(k, "node."))
	}
	if !slices.Contains(out, n.cfg.Node) {
		out = append(out, n.cfg.Node)
	}
	slices.Sort(out)
	return out, nil
}

// refreshMembers reads the live nodes' announcements for Status.
func (n *Node) refreshMembers(ctx context.Context, ids []string) {
	var ms []Member
	for _, id := range ids {
		e, err := n.cfg.KV.Get(ctx, "node."+id)
		if err != nil {
			continue
		}
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil {
			m.Self = id == n.cfg.Node
			ms = append(ms, m)
		}
	}
	n.mu.Lock()
	n.members = ms
	n.mu.Unlock()
}

// Assign deals partitions to the live nodes round-robin in id order: every node that sees the
// same nodes computes the same assignment, and no node gets two more than another.
func Assign(nodes []string, partitions int) map[string][]int {
	out := map[string][]int{}
	if len(nodes) == 0 {
		return out
	}
	sorted := slices.Sorted(slices.Values(nodes))
	for p := range partitions {
		id := sorted[p%len(sorted)]
		out[id] = append(out[id], p)
	}
	return out
}

// Status is what a node knows of the cluster.
type Status struct {
	Node       string   `json:"node"`
	Partitions int      `json:"partitions"`
	Held       []int    `json:"held"`
	Leader     bool     `json:"leader"`
	Nodes      []Member `json:"nodes"`
	// Renewed is when this node last renewed its leases.
	Renewed time.Time `json:"renewed"`
	// LeasesLost counts leases given up because their work stopped (a fenced write).
	LeasesLost int `json:"leases_lost"`
}

// Status reports this node's leases and the live nodes as the last round saw them.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Status{Node: n.cfg.Node, Partitions: n.cfg.Partitions, Leader: n.leader != nil, Renewed: n.lastOK.UTC(),
		Nodes: slices.Clone(n.members), LeasesLost: n.fenced, Held: []int{}}
	for p := range n.held {
		st.Held = append(st.Held, p)
	}
	slices.Sort(st.Held)
	return st
}

// Holds reports whether this node works on partition p now.
func (n *Node) Holds(p int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.held[p]
	return ok
}

// String names the node for logs.
func (n *Node) String() string { return fmt.Sprintf("node %s", n.cfg.Node) }

// Alone is the status of a deployment of one node (the embedded log): it holds every
// partition and runs every job.
type Alone struct {
	Node       string
	Addr       string
	Partitions int
	Since      time.Time
}

// Status reports the one node holding everything.
func (a Alone) Status() Status {
	held := make([]int, a.Partitions)
	for i := range held {
		held[i] = i
	}
	return Status{Node: a.Node, Partitions: a.Partitions, Held: held, Leader: true, Renewed: time.Now().UTC(),
		Nodes: []Member{{ID: a.Node, Addr: a.Addr, Since: a.Since, Held: held, Leader: true, Self: true}}}
}
