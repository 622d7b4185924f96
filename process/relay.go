package process

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/supervisor"
)

// RelayConsumer is the name under which the relay's position in the changes is stored.
const RelayConsumer = "changes.relay"

// Publisher puts changes on the changes stream (nats.Changes); it returns once every change
// is stored there.
type Publisher interface {
	PublishChanges(ctx context.Context, cs []kenner.Change) error
}

// RelayStore is what the relay reads and records.
type RelayStore interface {
	Position(ctx context.Context, consumer string, partition int) (uint64, error)
	Changes(ctx context.Context, after int64, limit int) ([]kenner.Change, error)
	Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error
}

// Relay publishes the store's changes (written in the transactions that caused them) on the
// changes stream, in order, as soon as the processor commits them. Its position is saved at
// most once a second, and when it has caught up, rather than after every publish: on the
// embedded store that write would queue behind the processor's. After a crash it publishes
// again what it published since, and the stream drops those copies by message id.
type Relay struct {
	store     RelayStore
	pub       Publisher
	logger    *slog.Logger
	wake      chan struct{}
	poll      time.Duration
	saveEvery time.Duration
	metrics   relayMetrics
}

type relayMetrics struct {
	published prometheus.Counter
	position  prometheus.Gauge
	latency   prometheus.Histogram
}

// relayBatch bounds the changes one publish round reads.
const relayBatch = 1000

// NewRelay returns a relay from store to pub; Run starts it.
func NewRelay(store RelayStore, pub Publisher, reg prometheus.Registerer, logger *slog.Logger) *Relay {
	m := relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_changes_published_total",
			Help: "Changes published on the changes stream."}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kenner_changes_relay_position",
			Help: "Sequence of the last change published on the changes stream."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kenner_changes_publish_delay_seconds",
			Help:    "Time from a change being recorded to its publication on the changes stream.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
	}
	reg.MustRegister(m.published, m.position, m.latency)
	return &Relay{store: store, pub: pub, logger: logger, wake: make(chan struct{}, 1),
		poll: time.Second, saveEvery: time.Second, metrics: m}
}

// Wake tells the relay that changes were committed; the processor calls it after each batch.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx is done, starting again from the saved position after a failure.
func (r *Relay) Run(ctx context.Context) {
	supervisor.Run(ctx, r.logger, "changes relay", r.run)
}

func (r *Relay) run(ctx context.Context) error {
	pos, err := r.store.Position(ctx, RelayConsumer, 0)
	if err != nil {
		return err
	}
	saved, savedAt := pos, time.Now()
	save := func(ctx context.Context) error {
		if pos == saved {
			return nil
		}
		err := r.store.Apply(ctx, kenner.Position{Consumer: RelayConsumer, Seq: pos}, func(context.Context, kenner.Batch) error { return nil })
		if err == nil {
			saved, savedAt = pos, time.Now()
		}
		return err
	}
	// A clean stop saves how far it got, so that a restart publishes nothing twice.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := save(sctx); err != nil {
			r.logger.Warn("changes relay: position not saved at stop", "err", err)
		}
	}()
	for {
		cs, err := r.store.Changes(ctx, int64(pos), relayBatch)
		if err != nil {
			return err
		}
		if len(cs) > 0 {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := r.pub.PublishChanges(pctx, cs)
			cancel()
			if err != nil {
				return err
			}
			now := time.Now()
			for _, c := range cs {
				r.metrics.latency.Observe(now.Sub(c.At).Seconds())
			}
			pos = uint64(cs[len(cs)-1].Seq)
			r.metrics.published.Add(float64(len(cs)))
			r.metrics.position.Set(float64(pos))
		}
		if len(cs) == 0 || time.Since(savedAt) >= r.saveEvery {
			if err := save(ctx); err != nil {
				return err
			}
		}
		if len(cs) == relayBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(r.poll):
		}
	}
}
