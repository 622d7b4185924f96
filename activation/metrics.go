package activation

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	queued    prometheus.Counter
	delivered *prometheus.CounterVec
	retried   *prometheus.CounterVec
	dead      *prometheus.CounterVec
	latency   prometheus.Histogram
	pruned    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_deliveries_queued_total", Help: "Deliveries queued for destinations."}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_deliveries_delivered_total",
			Help: "Deliveries a destination accepted, by destination type."}, []string{"type"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_deliveries_retried_total",
			Help: "Delivery attempts that failed and will be retried, by destination type."}, []string{"type"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kenner_deliveries_dead_total",
			Help: "Deliveries given up (dead-lettered), by destination type."}, []string{"type"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kenner_delivery_latency_seconds",
			Help: "Time from a delivery being queued to the destination accepting it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 20)}),
	}
	m.pruned = prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_deliveries_pruned_total", Help: "Delivered deliveries removed from the delivery log after the retention."})
	reg.MustRegister(m.queued, m.delivered, m.retried, m.dead, m.latency, m.pruned)
	return m
}
