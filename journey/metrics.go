package journey

import "github.com/prometheus/client_golang/prometheus"

// metrics are the runner's figures on /metrics.
type metrics struct {
	moves    prometheus.Counter   // moves committed
	refused  prometheus.Counter   // moves refused: someone moved the person first
	lateness prometheus.Histogram // from a timer's due time to the round that fired it
	entries  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		moves: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_journey_moves_total",
			Help: "People moved through journeys (entries, steps, exits), one per committed move."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_journey_moves_refused_total",
			Help: "Moves not applied because the person had moved since they were read (another node, or an event racing a timer)."}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kenner_journey_timer_lateness_seconds",
			Help: "Time from a journey timer's due time to the round that fired it.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		entries: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_journey_entries_total",
			Help: "People who entered a journey, or were scheduled to (a date entry)."}),
	}
	if reg != nil {
		reg.MustRegister(m.moves, m.refused, m.lateness, m.entries)
	}
	return m
}
