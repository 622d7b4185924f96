package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/cluster"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/postgres/pgtest"
)

// sharedStream names a fresh stream on the NATS server of KENNER_TEST_NATS (skipping the test
// without one) and removes it, its changes stream and its leases after the test.
func sharedStream(t *testing.T) (natsURL, stream string) {
	t.Helper()
	natsURL = os.Getenv("KENNER_TEST_NATS")
	if natsURL == "" {
		t.Skip("KENNER_TEST_NATS is not set; set it (and KENNER_TEST_POSTGRES) to run the scale-out tests")
	}
	b := make([]byte, 6)
	rand.Read(b)
	stream = "kenner_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		l, err := nats.Open(context.Background(), nats.Options{URL: natsURL, Stream: stream, Subject: "kenner." + stream}, slog.New(slog.DiscardHandler))
		if err == nil {
			if c, err := l.Changes(context.Background(), nats.ChangesOptions{Stream: stream + "-changes", Subject: "kenner." + stream + "-changes"}); err == nil {
				c.Delete(context.Background())
			}
			l.DeleteLeases(context.Background())
			l.DeleteStream(context.Background())
			l.Close()
		}
	})
	return natsURL, stream
}

// startCluster starts n nodes on a fresh PostgreSQL schema and stream, each with six
// partitions and the lease time ttl, and defines the count of Load events the tests check.
func startCluster(t *testing.T, n int, ttl string) (nodes []*child, creds initialCredentials, args, env []string) {
	t.Helper()
	natsURL, stream := sharedStream(t)
	args = []string{"--store", pgtest.Schema(t, pgtest.URL(t)), "--nats", natsURL, "--nats-stream", stream, "--partitions", "6", "--lease-ttl", ttl}
	env = []string{"KENNER_SECRET=cluster-test-secret-0123456789abcdef0123"}
	dataA := t.TempDir()
	nodes = append(nodes, startNode(t, dataA, env, args...))
	creds, err := waitForCredentials(t.Context(), dataA, nodes[0].url)
	if err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		nodes = append(nodes, startNode(t, t.TempDir(), env, args...))
	}
	if code, out := adminAPI(t, nodes[0].url, creds.AdminToken)("POST", "/v1/computed-traits", `{"name":"loads","func":"count","event":"Load","window":"3650d"}`); code != 201 {
		t.Fatalf("computed trait: %d %v", code, out)
	}
	return nodes, creds, args, env
}

func clusterStatus(t *testing.T, node *child, token string) (cluster.Status, bool) {
	req, _ := http.NewRequest("GET", node.url+"/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return cluster.Status{}, false
	}
	defer resp.Body.Close()
	var st cluster.Status
	return st, resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// spreadOf is how many partitions each live node announces, as node asks.
func spreadOf(t *testing.T, node *child, token string) map[string]int {
	st, ok := clusterStatus(t, node, token)
	if !ok {
		return nil
	}
	out := map[string]int{}
	for _, m := range st.Nodes {
		out[m.Addr] = len(m.Held)
	}
	return out
}

// evenly reports whether exactly the given nodes hold the partitions, two each.
func evenly(spread map[string]int, nodes ...*child) bool {
	if len(spread) != len(nodes) {
		return false
	}
	for _, n := range nodes {
		if spread[strings.TrimPrefix(n.url, "http://")] != 6/len(nodes) {
			return false
		}
	}
	return true
}

// loader sends "Load" events of 16 people through whichever nodes are up, remembering the
// acknowledged message ids.
type loader struct {
	mu     sync.Mutex
	nodes  []*child
	acked  map[string]bool
	stop   context.CancelFunc
	wg     sync.WaitGroup
	failed int
}

func startLoad(key string, nodes ...*child) *loader {
	l := &loader{nodes: nodes, acked: map[string]bool{}}
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range 6 {
		l.wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				l.mu.Lock()
				node := l.nodes[(c+n)%len(l.nodes)]
				l.mu.Unlock()
				var batch, ids []string
				for i := range 20 {
					id := fmt.Sprintf("c%d-%d-%d", c, n, i)
					ids = append(ids, id)
					batch = append(batch, fmt.Sprintf(`{"type":"track","event":"Load","userId":"u%d","messageId":%q}`, (c*20+i)%16, id))
				}
				req, _ := http.NewRequest("POST", node.url+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(batch, ",")+`]}`))
				req.SetBasicAuth(key, "")
				resp, err := client.Do(req)
				if err != nil {
					l.mu.Lock()
					l.failed++
					l.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					l.mu.Lock()
					for _, id := range ids {
						l.acked[id] = true
					}
					l.mu.Unlock()
				}
				time.Sleep(150 * time.Millisecond) // about 800 events/s in all: a load the nodes keep up with
			}
		})
	}
	return l
}

func (l *loader) use(nodes ...*child) {
	l.mu.Lock()
	l.nodes = nodes
	l.mu.Unlock()
}

func (l *loader) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *loader) finish() map[string]bool {
	l.stop()
	l.wg.Wait()
	return l.acked
}

// checkAppliedOnce: every acknowledged event is stored once, and each person's count of Load
// events (a computed trait kept by the processors) equals their stored events: nothing was
// applied twice or lost across the hand-overs.
func checkAppliedOnce(t *testing.T, node *child, token string, acked map[string]bool) map[string]any {
	t.Helper()
	api := adminAPI(t, node.url, token)
	var ids []string
	waitLong(t, "every acknowledged event stored", func() bool {
		ids = allMessageIDs(t, node.url, token)
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
		}
		for id := range acked {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	profiles := map[string]any{}
	for u := range 16 {
		user := fmt.Sprintf("u%d", u)
		var stored int
		var prof map[string]any
		waitLong(t, "the count of "+user, func() bool {
			stored = 0
			after := ""
			for {
				_, out := api("GET", "/v1/events?limit=1000&user_id="+user+"&after="+after, "")
				evs, _ := out["events"].([]any)
				for _, e := range evs {
					if e.(map[string]any)["event"] == "Load" {
						stored++
					}
				}
				next, _ := out["next"].(string)
				if next == "" {
					break
				}
				after = next
			}
			_, prof = api("GET", "/v1/profiles/user_id:"+user+"?consistent=true", "")
			got, _ := prof["computed"].(map[string]any)["loads"].(float64)
			return int(got) == stored
		})
		delete(prof, "version")
		profiles[user] = prof
	}
	return profiles
}

// TestClusterFailover runs three nodes on one PostgreSQL and NATS: the partitions spread two
// each; under load one node is killed with SIGKILL, and its partitions are processing again on
// the others within 10 s; a new node joins and the spread is even again. Every acknowledged
// event is applied exactly once in effect, and a replay of the log by one node gives the same
// profiles.
func TestClusterFailover(t *testing.T) {
	nodes, creds, args, env := startCluster(t, 3, "3s")
	a, b, c := nodes[0], nodes[1], nodes[2]
	api := adminAPI(t, a.url, creds.AdminToken)
	// A webhook destination of identify events (the probes below: a per-event webhook of the
	// whole load would measure the receiver), and a journey every person enters once.
	hooks := &hookCounter{keys: map[string]int{}}
	receiver := httptest.NewServer(hooks)
	defer receiver.Close()
	if code, out := api("POST", "/v1/destinations", `{"name":"hook","type":"webhook","config":{"url":"`+receiver.URL+`"},"subscribe":{"events":{"filter":"e.type == \"identify\""}}}`); code != 201 {
		t.Fatalf("destination: %d %v", code, out)
	}
	code, j := api("POST", "/v1/journeys", `{"name":"welcome","entry":{"event":"Load"},"reentry":"never","steps":[{"id":"mark","type":"set_trait","trait":"welcomed","value":true}]}`)
	if code != 201 {
		t.Fatalf("journey: %d %v", code, j)
	}
	journeyID := j["id"].(string)
	if code, out := api("POST", "/v1/journeys/"+journeyID+"/publish", ""); code != 200 {
		t.Fatalf("publish: %d %v", code, out)
	}
	waitUntil(t, "three nodes with two partitions each", func() bool { return evenly(spreadOf(t, a, creds.AdminToken), a, b, c) })
	st, _ := clusterStatus(t, a, creds.AdminToken)
	leaders := 0
	for _, m := range st.Nodes {
		if m.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders: %+v", leaders, st.Nodes)
	}

	load := startLoad(creds.WriteKey, a, b, c)
	for load.count() < 1500 {
		time.Sleep(20 * time.Millisecond)
	}
	// kill -9 one node: the others take its partitions once its leases run out.
	victim := b
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	victim.cmd.Wait()
	load.use(a, c)
	waitUntil(t, "the killed node's partitions taken over", func() bool { return evenly(spreadOf(t, a, creds.AdminToken), a, c) })
	failover := time.Since(killed)
	// Lag recovered: an event sent to every partition now is applied.
	probe := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	var batch []string
	for i := range 24 {
		batch = append(batch, fmt.Sprintf(`{"type":"identify","userId":"%s-%d","traits":{"n":%d}}`, probe, i, i))
	}
	batchSender(t, a.url, creds.WriteKey)(`{"batch":[` + strings.Join(batch, ",") + `]}`)
	for i := range 24 {
		waitUntil(t, "a probe applied", func() bool {
			code, _ := api("GET", fmt.Sprintf("/v1/profiles/user_id:%s-%d", probe, i), "")
			return code == 200
		})
	}
	recovered := time.Since(killed)
	t.Logf("killed a node: its partitions held again after %v, every partition applying new events after %v", failover.Round(10*time.Millisecond), recovered.Round(10*time.Millisecond))
	if failover > 10*time.Second {
		t.Errorf("failover took %v, want under 10 s", failover)
	}

	// A new node joins: the partitions spread evenly over three again.
	d := startNode(t, t.TempDir(), env, args...)
	joined := time.Now()
	load.use(a, c, d)
	waitUntil(t, "an even spread with the new node", func() bool { return evenly(spreadOf(t, a, creds.AdminToken), a, c, d) })
	t.Logf("rebalanced onto the new node in %v", time.Since(joined).Round(10*time.Millisecond))
	start := load.count()
	for load.count() < start+800 {
		time.Sleep(20 * time.Millisecond)
	}
	acked := load.finish()
	t.Logf("%d events acknowledged, %d requests failed (to the killed node)", len(acked), load.failed)
	profiles := checkAppliedOnce(t, a, creds.AdminToken, acked)

	// Every node's analytics counts every partition's events, those it processes and those
	// the others do.
	loads := regexp.MustCompile(`^c\d+-\d+-\d+$`) // the loader's message ids
	stored := 0
	for _, id := range allMessageIDs(t, a.url, creds.AdminToken) {
		if loads.MatchString(id) {
			stored++
		}
	}
	for _, n := range []*child{a, c, d} {
		waitLong(t, "the Load trend on "+n.url, func() bool {
			_, tr := adminAPI(t, n.url, creds.AdminToken)("GET", "/v1/analytics/trends?event=Load&max_age=0", "")
			total := 0.0
			for _, sr := range tr["series"].([]any) {
				total += sr.(map[string]any)["total"].(float64)
			}
			return int(total) == stored
		})
	}

	// Each event delivered once, each person through the journey once.
	waitLong(t, "the probes delivered", func() bool { return hooks.distinct() >= 24 })
	time.Sleep(2 * time.Second) // room for a second copy, were one coming
	if dup := hooks.duplicates(); dup > 0 {
		t.Errorf("%d deliveries sent more than once (of %d)", dup, hooks.distinct())
	}
	var rep map[string]any
	waitLong(t, "the journey's report", func() bool {
		_, rep = api("GET", "/v1/journeys/"+journeyID+"/report", "")
		return rep["completed"] == 16.0
	})
	if rep["entered"] != 16.0 {
		t.Errorf("journey report %v: want 16 people entered once each", rep)
	}
	for u := range 16 {
		_, p := api("GET", fmt.Sprintf("/v1/profiles/user_id:u%d?consistent=true", u), "")
		if p["traits"].(map[string]any)["welcomed"] != true {
			t.Errorf("u%d was not marked by the journey: %v", u, p["traits"])
		}
	}
	var split []string
	for _, n := range []*child{a, c, d} {
		split = append(split, fmt.Sprintf("%s %.0f", strings.TrimPrefix(n.url, "http://"), metricOf(t, n, "kenner_processor_events_total")))
	}
	t.Logf("events applied per node (the killed one's share not counted): %s", strings.Join(split, ", "))

	// A single node replaying the same log gives the same profiles.
	for _, n := range []*child{a, c, d} {
		n.cmd.Process.Signal(syscall.SIGTERM)
		n.cmd.Wait()
	}
	replayArgs := slices.Clone(args[:len(args)-2]) // all but --lease-ttl
	secret, _ := strings.CutPrefix(env[0], "KENNER_SECRET=")
	t.Setenv("KENNER_SECRET", secret)
	if code, out, stderr := runCLI(t, append([]string{"replay", "--data", t.TempDir()}, replayArgs...)...); code != 0 {
		t.Fatalf("replay: %d %s %s", code, out, stderr)
	}
	solo := startNode(t, t.TempDir(), env, args...)
	for user, want := range profiles {
		_, got := adminAPI(t, solo.url, creds.AdminToken)("GET", "/v1/profiles/user_id:"+user+"?consistent=true", "")
		delete(got, "version")
		for _, field := range []string{"traits", "computed", "identities", "first_seen", "last_seen"} {
			w, _ := json.Marshal(want.(map[string]any)[field])
			g, _ := json.Marshal(got[field])
			if string(w) != string(g) {
				t.Errorf("%s after a replay: %s = %s, was %s", user, field, g, w)
			}
		}
	}
}

// TestClusterFencing freezes a node with SIGSTOP while it processes under load, past its
// leases: the other node takes its partitions; resumed, the frozen node writes nothing (its
// batches in flight are refused by the store's fencing) and gives its partitions up, and every
// event is applied once.
func TestClusterFencing(t *testing.T) {
	nodes, creds, _, _ := startCluster(t, 2, "2s")
	a, b := nodes[0], nodes[1]
	waitUntil(t, "two nodes with three partitions each", func() bool { return evenly(spreadOf(t, a, creds.AdminToken), a, b) })
	load := startLoad(creds.WriteKey, a)
	for load.count() < 1500 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the frozen node's partitions taken over", func() bool {
		st, ok := clusterStatus(t, a, creds.AdminToken)
		return ok && len(st.Held) == 6
	})
	start := load.count()
	for load.count() < start+800 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the resumed node holding nothing", func() bool {
		st, ok := clusterStatus(t, b, creds.AdminToken)
		return ok && len(st.Held) == 0 && len(st.Nodes) == 2
	})
	if st, _ := clusterStatus(t, a, creds.AdminToken); len(st.Held) < 3 {
		t.Errorf("a holds %v after b resumed", st.Held)
	}
	acked := load.finish()
	checkAppliedOnce(t, a, creds.AdminToken, acked)
	waitUntil(t, "an even spread again", func() bool { return evenly(spreadOf(t, a, creds.AdminToken), a, b) })
	// The log is read once the process is gone: its writer is then done with it.
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	logs := b.logs.String()
	t.Logf("the resumed node: fenced writes %d, lost leases %d", strings.Count(logs, "fenced"), strings.Count(logs, "lost the lease"))
	if !strings.Contains(logs, "lost the lease") && !strings.Contains(logs, "stopping work") && !strings.Contains(logs, string("fenced")) {
		t.Errorf("the resumed node's log says nothing of losing its leases:\n%s", logs)
	}
}

// waitLong is waitUntil with time for a backlog to be processed.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 90s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricOf reads one unlabelled metric of a node.
func metricOf(t *testing.T, node *child, name string) float64 {
	resp, err := http.Get(node.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// hookCounter is a webhook receiver counting deliveries by their Idempotency-Key.
type hookCounter struct {
	mu   sync.Mutex
	keys map[string]int
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.keys[r.Header.Get("Idempotency-Key")]++
	h.mu.Unlock()
}

func (h *hookCounter) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.keys)
}

func (h *hookCounter) duplicates() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.keys {
		if c > 1 {
			n++
		}
	}
	return n
}
