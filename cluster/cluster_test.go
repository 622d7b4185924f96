package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/cluster"
	"github.com/kenner-cdp/kenner/nats"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestAssignIsEvenAndAgreed(t *testing.T) {
	for _, tc := range []struct {
		nodes []string
		parts int
	}{{[]string{"a"}, 4}, {[]string{"c", "a", "b"}, 4}, {[]string{"b", "a"}, 7}, {[]string{"a", "b", "c", "d", "e"}, 3}} {
		got := cluster.Assign(tc.nodes, tc.parts)
		seen := map[int]bool{}
		lo, hi := tc.parts, 0
		for _, id := range tc.nodes {
			lo, hi = min(lo, len(got[id])), max(hi, len(got[id]))
			for _, p := range got[id] {
				if seen[p] {
					t.Errorf("%v: partition %d dealt twice", tc.nodes, p)
				}
				seen[p] = true
			}
		}
		if len(seen) != tc.parts || hi-lo > 1 {
			t.Errorf("%v × %d partitions: %v, want each once and an even spread", tc.nodes, tc.parts, got)
		}
		rev := slices.Clone(tc.nodes)
		slices.Reverse(rev)
		if fmt.Sprint(cluster.Assign(rev, tc.parts)) != fmt.Sprint(got) {
			t.Errorf("%v: the order nodes are listed in changes the assignment", tc.nodes)
		}
	}
}

// work records which node runs which partition under which epoch.
type work struct {
	mu      sync.Mutex
	running map[int]string
	epochs  map[int][]uint64
}

func (w *work) worker(t *testing.T, node string) cluster.Worker {
	return func(ctx context.Context, p int, epoch uint64) error {
		w.mu.Lock()
		if other, ok := w.running[p]; ok {
			w.mu.Unlock()
			t.Errorf("partition %d runs on %s and %s at once", p, other, node)
			return fmt.Errorf("partition %d runs on %s and %s at once", p, other, node)
		}
		w.running[p] = node
		w.epochs[p] = append(w.epochs[p], epoch)
		w.mu.Unlock()
		<-ctx.Done()
		w.mu.Lock()
		delete(w.running, p)
		w.mu.Unlock()
		return nil
	}
}

func (w *work) spread() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, n := range w.running {
		out[n]++
	}
	return out
}

// TestNodesSharePartitions: three nodes end with the partitions evenly spread and each run
// once; a node that stops gives its partitions back and the others take them at once; a
// node that dies without a word loses them when its leases run out; every takeover runs
// under a newer epoch; exactly one node is the leader at a time.
func TestNodesSharePartitions(t *testing.T) {
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	log, err := nats.Open(t.Context(), nats.Options{Dir: t.TempDir(), Partitions: 6, Listen: fmt.Sprintf("127.0.0.1:%d", port)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ttl := 1200 * time.Millisecond
	kv, err := log.Leases(t.Context(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	w := &work{running: map[int]string{}, epochs: map[int][]uint64{}}
	var leaders sync.Map
	var leading sync.WaitGroup
	type running struct {
		node   *cluster.Node
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(id string, kv jetstream.KeyValue) *running {
		n := cluster.New(cluster.Config{KV: kv, Node: id, Partitions: 6, TTL: ttl, Work: w.worker(t, id), Leader: func(ctx context.Context) {
			leading.Add(1)
			defer leading.Done()
			if _, dup := leaders.LoadOrStore("leader", id); dup {
				t.Errorf("%s leads while another does", id)
			}
			<-ctx.Done()
			leaders.Delete("leader")
		}})
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{node: n, cancel: cancel, done: make(chan struct{})}
		go func() { n.Run(ctx); close(r.done) }()
		return r
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached; running %v", what, w.spread())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	even := func(nodes ...string) func() bool {
		return func() bool {
			s := w.spread()
			total := 0
			for _, id := range nodes {
				if s[id] != 6/len(nodes) {
					return false
				}
				total += s[id]
			}
			return total == 6
		}
	}
	cConn, err := natsgo.Connect(url, natsgo.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	cjs, _ := jetstream.New(cConn)
	ckv, err := cjs.KeyValue(t.Context(), "events-leases")
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := start("a", kv), start("b", kv), start("c", ckv)
	waitFor("three nodes with two partitions each", even("a", "b", "c"))
	waitFor("a's status lists three nodes with two partitions each", func() bool {
		st := a.node.Status()
		if len(st.Nodes) != 3 || len(st.Held) != 2 {
			return false
		}
		for _, m := range st.Nodes {
			if len(m.Held) != 2 {
				return false
			}
		}
		return true
	})

	// b stops: its partitions move at once (it gives them back).
	b.cancel()
	<-b.done
	began := time.Now()
	waitFor("a and c with three each", even("a", "c"))
	t.Logf("hand-over after a stop: %v", time.Since(began))

	// c is cut off from NATS (as by kill -9, or a network partition): it stops its work
	// before its leases run out, and a takes everything once they have.
	cConn.Close()
	began = time.Now()
	waitFor("a alone with all six", even("a"))
	t.Logf("takeover after a node was cut off: %v (lease time %v)", time.Since(began), ttl)

	for p, eps := range w.epochs {
		if !slices.IsSorted(eps) || len(slices.Compact(slices.Clone(eps))) != len(eps) {
			t.Errorf("partition %d ran under epochs %v, want each newer than the last", p, eps)
		}
	}
	c.cancel()
	<-c.done
	a.cancel()
	<-a.done
	leading.Wait()
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
