package activation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/subject"
	"github.com/kenner-cdp/kenner/activation/webhook"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// pipeline is the embedded deployment minus HTTP: SQLite, the embedded log, the processor
// and activation, with a local webhook receiver that notes when each message arrived.
type pipeline struct {
	store *sqlite.Store
	log   *nats.Log
	mu    sync.Mutex
	sent  map[string]time.Time // message id -> when the log acknowledged it
	lat   []time.Duration
	count int
	done  chan struct{}
	want  int
	// With the changes relay: every acknowledgement per user, and every change as it arrived
	// on the changes stream (matched to its user after the run, see streamLatencies).
	acks     map[string][]time.Time
	arrivals []arrival
}

type arrival struct {
	profileID string
	at        time.Time
}

// newPipeline starts the pipeline; with dest nil there is no destination, and the changes
// relay publishes on the changes stream instead.
func newPipeline(b *testing.B, dest func(hookURL string) kenner.Destination, segments ...kenner.Segment) (*pipeline, func()) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"))
	if err != nil {
		b.Fatal(err)
	}
	log, err := nats.Open(ctx, nats.Options{Dir: b.TempDir(), Partitions: 4}, logger)
	if err != nil {
		b.Fatal(err)
	}
	p := &pipeline{store: store, log: log, sent: map[string]time.Time{}, done: make(chan struct{}), acks: map[string][]time.Time{}}
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.arrived(body)
	}))
	var d kenner.Destination
	if dest != nil {
		d = dest(srv.URL)
	}
	for _, s := range segments {
		if err := store.CreateSegment(ctx, &s); err != nil {
			b.Fatal(err)
		}
		d.Subscribe.Segments = append(d.Subscribe.Segments, s.ID)
	}
	if dest != nil {
		if err := store.CreateDestination(ctx, &d); err != nil {
			b.Fatal(err)
		}
	}
	if d.Type == subject.Type {
		if _, err := log.Conn().Subscribe("bench.>", func(m *natsgo.Msg) { p.arrived(m.Data) }); err != nil {
			b.Fatal(err)
		}
	}
	var relay *process.Relay
	if dest == nil {
		changes, err := log.Changes(ctx, nats.ChangesOptions{})
		if err != nil {
			b.Fatal(err)
		}
		relay = process.NewRelay(store, changes, prometheus.NewRegistry(), logger)
		if _, err := log.Conn().Subscribe("kenner.changes.*.segment.>", func(m *natsgo.Msg) { p.changed(m.Data) }); err != nil {
			b.Fatal(err)
		}
	}
	act := activation.New(store, log, activation.Config{
		Senders: activation.Senders{webhook.Type: webhook.Factory(egress.MustAllow("127.0.0.0/8")), subject.Type: subject.Factory(subject.Options{Publish: log.DestinationConn(), Lookup: log.Conn()})},
		Poll:    time.Second,
	}, prometheus.NewRegistry(), logger)
	pcfg := process.DefaultConfig()
	pcfg.Committed = act.Wake
	if relay != nil {
		pcfg.Committed = func() { act.Wake(); relay.Wake() }
	}
	proc := process.New(log, store, pcfg, prometheus.NewRegistry(), logger)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { proc.Run(runCtx) })
	wg.Go(func() { act.Run(runCtx) })
	if relay != nil {
		wg.Go(func() { relay.Run(runCtx) })
	}
	return p, func() { stop(); wg.Wait(); srv.Close(); store.Close(); log.Close() }
}

// arrived notes a delivery: an event by its messageId, a change by the message id of the
// event that caused it (the profile's last event, carried in the profile traits here).
func (p *pipeline) arrived(body []byte) {
	var m struct {
		MessageID string `json:"messageId"`
		Profile   struct {
			Identities []kenner.Identifier `json:"identities"`
		} `json:"profile"`
	}
	json.Unmarshal(body, &m)
	key := m.MessageID
	if key == "" {
		for _, id := range m.Profile.Identities {
			if id.Kind == "user_id" {
				key = "user:" + id.Value
			}
		}
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if at, ok := p.sent[key]; ok {
		p.lat = append(p.lat, now.Sub(at))
		delete(p.sent, key)
	}
	p.count++
	if p.count == p.want {
		close(p.done)
	}
}

// changed notes a change that arrived on the changes stream.
func (p *pipeline) changed(data []byte) {
	now := time.Now()
	var c kenner.Change
	json.Unmarshal(data, &c)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arrivals = append(p.arrivals, arrival{c.ProfileID, now})
	p.count++
	if p.count == p.want {
		close(p.done)
	}
}

// streamLatencies matches each change that arrived on the stream to the acknowledgement of
// its profile's user's latest event before it, once the run is over (a store lookup per
// profile during the run would delay the arrivals after it).
func (p *pipeline) streamLatencies(b *testing.B) {
	users := map[string]string{}
	for _, a := range p.arrivals {
		if _, ok := users[a.profileID]; ok {
			continue
		}
		prof, err := p.store.Profile(context.Background(), "ws", kenner.Identifier{Kind: kenner.KindProfileID, Value: a.profileID})
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range prof.Identities {
			if id.Kind == kenner.KindUserID {
				users[a.profileID] = "user:" + id.Value
			}
		}
	}
	for _, a := range p.arrivals {
		acks := p.acks[users[a.profileID]]
		i, _ := slices.BinarySearchFunc(acks, a.at, func(t, at time.Time) int { return t.Compare(at) })
		if i > 0 {
			p.lat = append(p.lat, a.at.Sub(acks[i-1]))
		}
	}
}

// send appends n track events at rate per second (0: as fast as the log takes them),
// noting when the log acknowledged each.
func (p *pipeline) send(b *testing.B, n, rate int, name func(i int) (user, event string)) {
	ctx := context.Background()
	const tick = 10 * time.Millisecond
	per := n
	if rate > 0 {
		per = max(1, rate/int(time.Second/tick))
	}
	next := time.Now()
	for i := 0; i < n; {
		var batches []kenner.LogBatch
		var ids, who []string
		for j := 0; j < per && i < n; j, i = j+1, i+1 {
			user, event := name(i)
			at := time.Now().UTC().Format(time.RFC3339Nano)
			id := fmt.Sprintf("m%d", i)
			body, _ := json.Marshal(map[string]any{"type": "track", "event": event, "userId": user, "messageId": id,
				"timestamp": at, "receivedAt": at, "properties": map[string]any{"i": i}})
			part := int(user[len(user)-1]) % 4
			batches = append(batches, kenner.LogBatch{WorkspaceID: "ws", SourceID: "src", Partition: part, Events: [][]byte{body}})
			ids, who = append(ids, id), append(who, "user:"+user)
		}
		if err := p.log.Append(ctx, batches); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		p.mu.Lock()
		for k := range ids {
			p.sent[ids[k]] = now
			p.sent[who[k]] = now
			p.acks[who[k]] = append(p.acks[who[k]], now)
		}
		p.mu.Unlock()
		if rate > 0 {
			next = next.Add(tick)
			time.Sleep(time.Until(next))
		}
	}
}

func (p *pipeline) report(b *testing.B, n int, start time.Time) {
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("received %d of %d", p.count, n)
	}
	elapsed := time.Since(start)
	p.mu.Lock()
	if len(p.arrivals) > 0 {
		p.streamLatencies(b)
	}
	lat := slices.Clone(p.lat)
	p.mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}

func webhookDest(batch, parallel int) func(string) kenner.Destination {
	return func(url string) kenner.Destination {
		cfg, _ := json.Marshal(map[string]any{"url": url, "secret": "k"})
		return kenner.Destination{WorkspaceID: "ws", Name: "hook", Type: webhook.Type, Config: cfg, BatchSize: batch, Parallel: parallel,
			Subscribe: kenner.Subscription{Events: kenner.EventSubscription{Enabled: true}}}
	}
}

func users(n int) func(i int) (string, string) {
	return func(i int) (string, string) { return fmt.Sprintf("user%05d", i%n), "Clicked" }
}

// BenchmarkDelivery measures activation on the embedded deployment:
//   - webhook-throughput: b.N events already in the log, delivered one per request to a local
//     receiver (8 at once), from start to the last arrival;
//   - webhook-latency-1000: events appended at 1,000/s for 10 s; latency from the log's
//     acknowledgement (when the tracking API answers 200) to the receiver;
//   - segment-change-5000: events at 5,000/s for 10 s, each moving its profile in or out of a
//     segment; latency from acknowledgement to the segment.entered/exited message published
//     on a NATS subject by a NATS destination (through activation's delivery queue);
//   - segment-change-stream-5000: the same load; latency from acknowledgement to the change
//     arriving on the changes stream, where the relay publishes it (issue 4's "event accepted
//     to membership change published").
func BenchmarkDelivery(b *testing.B) {
	b.Run("webhook-throughput", func(b *testing.B) {
		n := max(b.N, 1000)
		p, closeAll := newPipeline(b, webhookDest(1, 8))
		defer closeAll()
		p.want = n
		start := time.Now()
		p.send(b, n, 0, users(2000))
		p.report(b, n, start)
	})
	b.Run("webhook-latency-1000", func(b *testing.B) {
		const n = 10_000
		p, closeAll := newPipeline(b, webhookDest(1, 8))
		defer closeAll()
		p.want = n
		start := time.Now()
		p.send(b, n, 1000, users(2000))
		p.report(b, n, start)
	})
	b.Run("segment-change-5000", func(b *testing.B) {
		const n = 50_000
		bus := func(string) kenner.Destination {
			cfg, _ := json.Marshal(map[string]any{"subject": "bench.{type}"})
			return kenner.Destination{WorkspaceID: "ws", Name: "bus", Type: subject.Type, Config: cfg, Parallel: 16}
		}
		p, closeAll := newPipeline(b, bus, kenner.Segment{WorkspaceID: "ws", Name: "odd", Condition: `events.count("Clicked") % 2 == 1`})
		defer closeAll()
		p.want = n // every event flips its profile in or out
		start := time.Now()
		p.send(b, n, 5000, users(5000))
		p.report(b, n, start)
	})
	b.Run("segment-change-stream-5000", func(b *testing.B) {
		const n = 50_000
		p, closeAll := newPipeline(b, nil, kenner.Segment{WorkspaceID: "ws", Name: "odd", Condition: `events.count("Clicked") % 2 == 1`})
		defer closeAll()
		p.want = n
		start := time.Now()
		p.send(b, n, 5000, users(5000))
		p.report(b, n, start)
	})
}
