package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// metrics are the daemon's own, beside the probes' (synthetic) in the same registry.
type metrics struct {
	verdicts  *prometheus.CounterVec
	overrides *prometheus.CounterVec
	decision  *prometheus.HistogramVec
	rollbacks *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	pruned    prometheus.Counter
	checks    *checkSeries
}

// analysesByState reads the analyses by state from the store at each scrape, so that it counts
// what a restart keeps.
type analysesByState struct {
	st   store.Analyses
	desc *prometheus.Desc
}

func (c analysesByState) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c analysesByState) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.st.CountAnalyses(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, state := range []verdict.Decision{verdict.Running, verdict.Promote, verdict.Rollback, verdict.Inconclusive, verdict.Interrupted} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[state]), string(state))
	}
}

func newMetrics(reg prometheus.Registerer, st store.Store, keepDecided int) (*metrics, error) {
	m := &metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_verdicts_total",
			Help: "Verdicts recorded by this process, by decision and analysis spec.",
		}, []string{"decision", "spec"}),
		overrides: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_overrides_total",
			Help: "Decided verdicts overridden by hand through this process, by new decision and analysis spec.",
		}, []string{"decision", "spec"}),
		decision: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "greenlight_decision_seconds",
			Help:    "Time from an analysis's start to its verdict, by decision and analysis spec.",
			Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"decision", "spec"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_rollbacks_total",
			Help: "Rollbacks decided by this process, by analysis spec and the phase that decided them: smoke and analysis stopped a regression before it took traffic, watch after it did.",
		}, []string{"spec", "phase"}),
		checks: newCheckSeries(keepDecided),
	}
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greenlight_delivery_attempts_total",
		Help: "Delivery attempts made by this process, by endpoint and outcome: delivered, failed (retried later) or dead (given up).",
	}, []string{"endpoint", "outcome"})
	m.pruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "greenlight_pruned_analyses_total",
		Help: "Decided analyses deleted by this process once older than the retention (--retention).",
	})
	byState := analysesByState{st: st, desc: prometheus.NewDesc("greenlight_analyses", "Analyses in the store, by state.", []string{"state"}, nil)}
	for _, c := range []prometheus.Collector{m.verdicts, m.overrides, m.decision, m.rollbacks, m.attempts, m.pruned, m.checks, byState, newDeliveryGauges(st)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) decided(a store.Analysis, v *verdict.Verdict, at time.Time) {
	m.verdicts.WithLabelValues(string(v.Decision), a.Spec).Inc()
	m.decision.WithLabelValues(string(v.Decision), a.Spec).Observe(at.Sub(a.CreatedAt).Seconds())
	if v.Decision == verdict.Rollback {
		m.rollbacks.WithLabelValues(a.Spec, string(v.Phase)).Inc()
	}
	m.checks.decide(a, v)
}

func (m *metrics) overridden(a store.Analysis, d verdict.Decision) {
	m.overrides.WithLabelValues(string(d), a.Spec).Inc()
}

func (m *metrics) attempt(endpoint, outcome string) {
	m.attempts.WithLabelValues(endpoint, outcome).Inc()
}

// deliveryGauges read the outbox at each scrape: the deliveries by endpoint and state, and the
// endpoints disabled (a 410 Gone) until enabled by hand.
type deliveryGauges struct {
	st                   store.Outbox
	deliveries, disabled *prometheus.Desc
}

func newDeliveryGauges(st store.Outbox) deliveryGauges {
	return deliveryGauges{st: st,
		deliveries: prometheus.NewDesc("greenlight_deliveries", "Deliveries in the store, by endpoint and state (pending, delivered, dead).", []string{"endpoint", "state"}, nil),
		disabled:   prometheus.NewDesc("greenlight_endpoint_disabled", "1 for each endpoint disabled (it answered 410 Gone) until enabled by hand.", []string{"endpoint"}, nil),
	}
}

func (c deliveryGauges) Describe(ch chan<- *prometheus.Desc) { ch <- c.deliveries; ch <- c.disabled }

func (c deliveryGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.st.CountDeliveries(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.deliveries, err)
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.GaugeValue, float64(n.N), n.Target, string(n.State))
	}
	disabled, err := c.st.DisabledEndpoints(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.disabled, err)
	}
	for name := range disabled {
		ch <- prometheus.MustNewConstMetric(c.disabled, prometheus.GaugeValue, 1, name)
	}
}
