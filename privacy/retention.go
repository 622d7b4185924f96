package privacy

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/prometheus/client_golang/prometheus"
)

// Retention classes. Event classes name what they keep: all events, events of a type, or
// events of a name; the most specific rule an event falls under decides how long it stays.
const (
	ClassEvents = "events"
	ClassAudit  = "audit"
	prefixType  = "type:"
	prefixEvent = "event:"
)

// RetentionRule keeps one class of data for Keep.
type RetentionRule struct {
	Class string
	Keep  time.Duration
}

// ParseRetention reads rules given as class → duration ("760d", "8760h"). Classes: events,
// type:<page|track|identify|screen|group|alias>, event:<name>, audit.
func ParseRetention(m map[string]string) ([]RetentionRule, error) {
	var out []RetentionRule
	for class, v := range m {
		class = strings.TrimSpace(class)
		switch {
		case class == ClassEvents || class == ClassAudit:
		case strings.HasPrefix(class, prefixType):
			if !slices.Contains(kenner.EventTypes, strings.TrimPrefix(class, prefixType)) {
				return nil, kenner.Errorf(kenner.EInvalid, "retention class %q: type must be one of %s", class, strings.Join(kenner.EventTypes, ", "))
			}
		case strings.HasPrefix(class, prefixEvent) && len(class) > len(prefixEvent):
		default:
			return nil, kenner.Errorf(kenner.EInvalid, "retention class %q: want events, type:<type>, event:<name> or audit", class)
		}
		d, err := kenner.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < time.Hour {
			return nil, kenner.Errorf(kenner.EInvalid, "retention %s: want a duration of at least 1h, like 395d, not %q", class, v)
		}
		out = append(out, RetentionRule{Class: class, Keep: d})
	}
	slices.SortFunc(out, func(a, b RetentionRule) int { return strings.Compare(a.Class, b.Class) })
	return out, nil
}

// LogMaxAge is how long the log must keep events under rules: the longest event rule when
// every event falls under one (an events rule exists), else 0 (for ever). The log is what a
// replay rebuilds from, so it keeps what the longest rule keeps.
func LogMaxAge(rules []RetentionRule) time.Duration {
	var longest time.Duration
	all := false
	for _, r := range rules {
		if r.Class == ClassAudit {
			continue
		}
		all = all || r.Class == ClassEvents
		longest = max(longest, r.Keep)
	}
	if !all {
		return 0
	}
	return longest
}

// expiries turns event rules into store selections whose results do not overlap.
func expiries(rules []RetentionRule, now time.Time) map[string]kenner.Expiry {
	var types, names []string
	for _, r := range rules {
		if t, ok := strings.CutPrefix(r.Class, prefixType); ok {
			types = append(types, t)
		}
		if n, ok := strings.CutPrefix(r.Class, prefixEvent); ok {
			names = append(names, n)
		}
	}
	out := map[string]kenner.Expiry{}
	for _, r := range rules {
		before := now.Add(-r.Keep)
		switch {
		case r.Class == ClassEvents:
			out[r.Class] = kenner.Expiry{Before: before, ExceptTypes: types, ExceptNames: names}
		case strings.HasPrefix(r.Class, prefixType):
			out[r.Class] = kenner.Expiry{Before: before, Type: strings.TrimPrefix(r.Class, prefixType), ExceptNames: names}
		case strings.HasPrefix(r.Class, prefixEvent):
			out[r.Class] = kenner.Expiry{Before: before, Name: strings.TrimPrefix(r.Class, prefixEvent)}
		}
	}
	return out
}

// retentionChunk bounds one delete, so that the store's writer is never held for long.
const retentionChunk = 5000

// Retention enforces retention rules on the store.
type Retention struct {
	store  kenner.Store
	rules  []RetentionRule
	logger *slog.Logger
	// Now is the clock ages are measured against (tests set it).
	Now func() time.Time

	deleted *prometheus.CounterVec
	lastRun prometheus.Gauge
	failed  prometheus.Counter
}

// NewRetention returns the retention job for rules, registering its metrics with reg.
func NewRetention(store kenner.Store, rules []RetentionRule, reg prometheus.Registerer, logger *slog.Logger) *Retention {
	r := &Retention{store: store, rules: rules, logger: logger, Now: time.Now,
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_retention_deleted_total",
			Help: "Rows removed by retention rules, by data class."}, []string{"class"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kenner_retention_last_success_timestamp_seconds",
			Help: "When the retention job last completed a pass without error (Unix time)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_retention_failures_total",
			Help: "Retention passes that stopped on an error."}),
	}
	for _, rule := range rules {
		r.deleted.WithLabelValues(rule.Class) // so every class shows, at 0
	}
	reg.MustRegister(r.deleted, r.lastRun, r.failed)
	return r
}

// Run applies the rules every interval (and once at start) until ctx is done.
func (r *Retention) Run(ctx context.Context, every time.Duration) {
	if len(r.rules) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.failed.Inc()
			r.logger.Error("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce applies every rule to every workspace and returns how many rows each class lost.
func (r *Retention) RunOnce(ctx context.Context) (map[string]int64, error) {
	now := r.Now()
	out := map[string]int64{}
	wss, err := r.store.Workspaces(ctx)
	if err != nil {
		return out, err
	}
	xs := expiries(r.rules, now)
	classes := make([]string, 0, len(xs))
	for c := range xs {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	// drain deletes chunk after chunk until a chunk comes back short.
	drain := func(class string, expire func() (int64, error)) error {
		for {
			n, err := expire()
			out[class] += n
			r.deleted.WithLabelValues(class).Add(float64(n))
			if err != nil || n < retentionChunk {
				return err
			}
		}
	}
	for _, ws := range wss {
		for _, class := range classes {
			if err := drain(class, func() (int64, error) { return r.store.ExpireEvents(ctx, ws.ID, xs[class], retentionChunk) }); err != nil {
				return out, err
			}
		}
	}
	for _, rule := range r.rules {
		if rule.Class != ClassAudit {
			continue
		}
		if err := drain(rule.Class, func() (int64, error) { return r.store.ExpireAudit(ctx, now.Add(-rule.Keep), retentionChunk) }); err != nil {
			return out, err
		}
	}
	r.lastRun.SetToCurrentTime()
	for class, n := range out {
		if n > 0 {
			r.logger.Info("retention", "class", class, "deleted", n)
		}
	}
	return out, nil
}
