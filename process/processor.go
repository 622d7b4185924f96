// Package process consumes the event log: one ordered reader per partition, each applying its
// records to the store in transactions that also record how far it got. That makes processing
// idempotent and restartable: after a crash a reader resumes from the stored position, and a
// record applied twice changes nothing (message ids are unique per workspace).
package process

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/supervisor"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/prometheus/client_golang/prometheus"
)

// ConsumerName is the name under which the processor's positions are stored.
const ConsumerName = "processor"

// Processor applies the log to the store.
type Processor struct {
	log     kenner.Log
	store   kenner.Store
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time
	applied atomic.Int64
	// until holds, per partition, when the last event applied was received: how far behind
	// the processor is, for the console's overview (AppliedUntil).
	until   sync.Map // int → time.Time
	resumed sync.Map // int → uint64: the partitions being read, and where reading resumed
	engines engines
	guard   guard
}

// New returns a Processor reading log into store under cfg.
func New(log kenner.Log, store kenner.Store, cfg Config, reg prometheus.Registerer, logger *slog.Logger) *Processor {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.PII == nil {
		cfg.PII = privacy.NewPII(nil)
	}
	if cfg.Consent.Active() && cfg.Segments.ConsentDefaults == nil {
		cfg.Segments.ConsentDefaults = map[string]bool{}
		for purpose := range cfg.Consent.Purposes {
			cfg.Segments.ConsentDefaults[purpose] = cfg.Consent.DefaultGranted
		}
	}
	return &Processor{log: log, store: store, cfg: cfg, logger: logger, metrics: newMetrics(reg), now: now}
}

// Run reads every partition until ctx is done, then waits for the readers to stop. A reader that
// fails (store or log unreachable) starts again from its stored position after a pause.
func (p *Processor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for part := range p.log.Partitions() {
		wg.Go(func() {
			supervisor.Run(ctx, p.logger, fmt.Sprintf("processor of partition %d", part), func(ctx context.Context) error {
				return p.runPartition(ctx, part, 0)
			})
		})
	}
	wg.Wait()
}

// Applied is how many new events this processor has applied to the store.
func (p *Processor) Applied() int64 { return p.applied.Load() }

// CatchUp runs the processor until it has applied every record that was in the log when
// CatchUp was called, then stops it. kenner replay and tests use it.
func (p *Processor) CatchUp(ctx context.Context) error {
	heads, err := p.log.Heads(ctx)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(runCtx) })
	defer func() { stop(); wg.Wait() }()
	return p.reach(ctx, heads)
}

// Caught waits until the running processor has applied every record that was in the log when
// it was called: a reader that must see everything accepted so far (a model's training).
func (p *Processor) Caught(ctx context.Context) error {
	if p.log == nil {
		return nil // a processor fed by hand (benchmarks): what it applied is all there is
	}
	heads, err := p.log.Heads(ctx)
	if err != nil {
		return err
	}
	return p.reach(ctx, heads)
}

// reach waits until the stored positions are at heads.
func (p *Processor) reach(ctx context.Context, heads []uint64) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for part, head := range heads {
		for {
			pos, err := p.store.Position(ctx, ConsumerName, part)
			if err != nil {
				return err
			}
			if pos >= head {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
	return nil
}

func (p *Processor) runPartition(ctx context.Context, part int, epoch uint64) error {
	var pos uint64
	var err error
	if epoch > 0 {
		// From now on the store refuses the partition's writes under older leases: a node
		// that held it before and is still finishing a batch cannot commit it.
		pos, err = p.store.ClaimPosition(ctx, ConsumerName, part, epoch)
	} else {
		pos, err = p.store.Position(ctx, ConsumerName, part)
	}
	if err != nil {
		return err
	}
	p.resumed.Store(part, pos)
	defer p.resumed.Delete(part)
	return p.log.Read(ctx, part, pos, func(ctx context.Context, recs []kenner.LogRecord) error {
		return p.apply(ctx, part, epoch, recs)
	})
}

// Resumed reports whether this processor is reading a partition now, and the position it
// resumed from there (what it applies after that, it hands to Config.Applied).
func (p *Processor) Resumed(part int) (uint64, bool) {
	v, ok := p.resumed.Load(part)
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}

// RunPartition processes one partition under the lease epoch its node holds (scale-out: the
// cluster runs it for each partition the node holds) until ctx ends, restarting after
// failures, or until a newer lease's holder has claimed the partition: then it returns the
// kenner.EFenced error, having applied nothing more.
func (p *Processor) RunPartition(ctx context.Context, part int, epoch uint64) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var fenced error
	supervisor.Run(runCtx, p.logger, fmt.Sprintf("processor of partition %d", part), func(ctx context.Context) error {
		err := p.runPartition(ctx, part, epoch)
		if kenner.ErrorCode(err) == kenner.EFenced {
			fenced = err
			stop()
		}
		return err
	})
	return fenced
}

// Apply applies records read from one partition of the log, in one store transaction with the
// partition's new position. Run calls it; tests and tools that hold records call it directly.
func (p *Processor) Apply(ctx context.Context, part int, recs []kenner.LogRecord) error {
	return p.apply(ctx, part, 0, recs)
}

func (p *Processor) apply(ctx context.Context, part int, epoch uint64, recs []kenner.LogRecord) error {
	var events []kenner.Event
	type key struct{ workspace, messageID string }
	seen := map[key]bool{}
	for _, rec := range recs {
		for i, body := range rec.Events {
			if len(body) == 0 {
				continue // erased: its key is gone (privacy.SealedLog)
			}
			e, err := DecodeEvent(body)
			if err != nil {
				// Ingestion wrote this record, so this is a bug, not bad input: skipping keeps the
				// partition moving, and the log still holds the record for a replay once fixed.
				p.logger.Error("undecodable event in log; skipped", "seq", rec.Seq, "index", i, "err", err)
				p.metrics.skipped.Inc()
				continue
			}
			e.WorkspaceID, e.SourceID, e.Seq, e.Index = rec.WorkspaceID, rec.SourceID, rec.Seq, i
			// A retry inside one batch: the first copy is the earliest in the log.
			if k := (key{e.WorkspaceID, e.MessageID}); !seen[k] {
				seen[k] = true
				events = append(events, e)
			}
		}
	}
	last := recs[len(recs)-1].Seq
	// Workspaces never share a profile, so each is resolved on its own, in log order.
	var order []string
	byWorkspace := map[string][]kenner.Event{}
	for _, e := range events {
		if _, ok := byWorkspace[e.WorkspaceID]; !ok {
			order = append(order, e.WorkspaceID)
		}
		byWorkspace[e.WorkspaceID] = append(byWorkspace[e.WorkspaceID], e)
	}
	if err := p.refreshGuard(ctx); err != nil {
		return err
	}
	pos := kenner.Position{Consumer: ConsumerName, Partition: part, Seq: last, Epoch: epoch}
	var owners map[string]map[kenner.Identifier]string
	err := p.store.Apply(ctx, pos, func(ctx context.Context, b kenner.Batch) error {
		owners = make(map[string]map[kenner.Identifier]string, len(order)) // afresh on a retry
		for _, ws := range order {
			if p.cfg.Applied != nil {
				owners[ws] = map[kenner.Identifier]string{}
			}
			if err := p.resolve(ctx, b, ws, byWorkspace[ws], false, nil, owners[ws]); err != nil {
				return fmt.Errorf("workspace %s: %w", ws, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply records up to %d: %w", last, err)
	}
	p.committed()
	if p.cfg.Applied != nil && len(events) > 0 {
		p.cfg.Applied(part, events, owners)
	}
	p.metrics.position.WithLabelValues(fmt.Sprint(part)).Set(float64(last))
	if len(events) > 0 {
		p.metrics.lag.Observe(p.now().Sub(events[len(events)-1].ReceivedAt).Seconds())
		p.until.Store(part, events[len(events)-1].ReceivedAt)
	}
	return nil
}

// AppliedUntil is when the last event this processor applied from the partition was
// received (ok false: none yet since it started). While the partition is behind the log,
// now minus that time is how late its profiles are.
func (p *Processor) AppliedUntil(partition int) (time.Time, bool) {
	t, ok := p.until.Load(partition)
	if !ok {
		return time.Time{}, false
	}
	return t.(time.Time), true
}

func (p *Processor) committed() {
	if p.cfg.Committed != nil {
		p.cfg.Committed()
	}
}

// DecodeEvent reads the indexed fields of an enriched message as ingestion wrote it.
func DecodeEvent(body []byte) (kenner.Event, error) {
	m, err := jsonobj.Parse(body)
	if err != nil {
		return kenner.Event{}, err
	}
	e := kenner.Event{Body: body}
	e.Type, _ = m.GetString("type")
	e.MessageID, _ = m.GetString("messageId")
	e.UserID, _ = m.GetString("userId")
	e.AnonymousID, _ = m.GetString("anonymousId")
	if e.Type == kenner.TypeTrack {
		e.Name, _ = m.GetString("event")
	} else {
		e.Name, _ = m.GetString("name")
	}
	ts, _ := m.GetString("timestamp")
	if e.Timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return kenner.Event{}, fmt.Errorf("timestamp: %w", err)
	}
	recv, _ := m.GetString("receivedAt")
	if e.ReceivedAt, err = time.Parse(time.RFC3339Nano, recv); err != nil {
		return kenner.Event{}, fmt.Errorf("receivedAt: %w", err)
	}
	return e, nil
}

type metrics struct {
	processed  prometheus.Counter
	duplicates prometheus.Counter
	skipped    prometheus.Counter
	position   *prometheus.GaugeVec
	lag        prometheus.Histogram
	dropped    *prometheus.CounterVec
	merges     prometheus.Counter
	consent    *prometheus.CounterVec
	// segmentChanges counts entries and exits; segmentErrors evaluations that failed (a
	// missing trait, the cost limit), which count as "not a member".
	segmentChanges prometheus.Counter
	segmentErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		processed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_processor_events_total", Help: "New events applied to the store."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_processor_duplicates_total", Help: "Events dropped because their messageId was already stored."}),
		skipped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_processor_skipped_total", Help: "Log entries that could not be decoded."}),
		position:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kenner_processor_position", Help: "Last log sequence applied, per partition."}, []string{"partition"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kenner_processor_lag_seconds", Help: "Time from an event's receipt to its application to the store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
	}
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_identity_dropped_total",
		Help: "Identifiers of events not used for resolution, by reason (invalid, blocked value, rule)."}, []string{"reason"})
	m.consent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_consent_events_total",
		Help: "Events of people without consent for a purpose, by what the consent policy did (strip, drop)."}, []string{"verdict"})
	m.merges = prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_identity_merges_total", Help: "Profiles merged into another."})
	m.segmentChanges = prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_segment_membership_changes_total", Help: "Profiles entering or leaving a segment."})
	m.segmentErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_segment_evaluation_errors_total",
		Help: "Segment conditions that failed for a profile (a missing trait, the cost limit); the profile is not a member."})
	reg.MustRegister(m.processed, m.duplicates, m.skipped, m.position, m.lag, m.dropped, m.merges, m.consent, m.segmentChanges, m.segmentErrors)
	return m
}
