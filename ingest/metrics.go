package ingest

import (
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/standardize"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the tracking API.
type Metrics struct {
	accepted      prometheus.Counter
	rejectedBy    *prometheus.CounterVec
	appendLatency prometheus.Histogram
	// consentStripped counts events stripped of personal data on arrival because they
	// refused consent to a purpose.
	consentStripped prometheus.Counter
	// nonStandard counts values that had no standard form of their kind (kept as sent).
	nonStandard *prometheus.CounterVec
	// planned counts events that broke their source's tracking plan, by what was done.
	planned *prometheus.CounterVec
}

// NewMetrics registers the tracking API's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kenner_ingest_events_accepted_total", Help: "Events acknowledged to clients (durably in the log).",
		}),
		rejectedBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kenner_ingest_requests_rejected_total", Help: "Tracking requests rejected, by reason (the error code).",
		}, []string{"reason"}),
		appendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kenner_log_append_seconds", Help: "Time to append one request's events durably to the log.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		consentStripped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kenner_ingest_consent_stripped_total", Help: "Events stripped of personal data on arrival because they refused consent to a purpose of the policy.",
		}),
		nonStandard: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kenner_standardize_invalid_total", Help: "Trait and property values with no standard form of their kind, kept as sent, by kind.",
		}, []string{"kind"}),
		planned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kenner_tracking_plan_violations_total", Help: "Events that broke their source's tracking plan, by action (allow, flag, block).",
		}, []string{"action"}),
	}
	reg.MustRegister(m.accepted, m.rejectedBy, m.appendLatency, m.consentStripped, m.nonStandard, m.planned)
	return m
}

func (m *Metrics) standardizeProblems(ps []standardize.Problem) {
	for _, p := range ps {
		m.nonStandard.WithLabelValues(string(p.Kind)).Inc()
	}
}

func (m *Metrics) rejected(err error) {
	m.rejectedBy.WithLabelValues(kenner.ErrorCode(err)).Inc()
}
