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
	verdicts   *prometheus.CounterVec
	overrides  *prometheus.CounterVec
	decision   *prometheus.HistogramVec
	rollbacks  *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	checks     *checkSeries
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

// Outcomes of a delivery attempt (greenlight_deliveries_total's outcome label).
const (
	deliveryDelivered = "delivered" // the receiver accepted it
	deliveryRetry     = "retry"     // it failed and will be tried again
	deliveryDead      = "dead"      // it failed and is given up
)

func newMetrics(reg prometheus.Registerer, st store.Analyses, keepDecided int) (*metrics, error) {
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
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_deliveries_total",
			Help: "Delivery attempts of verdict events to endpoints (webhooks, callbacks), by endpoint and outcome (delivered, retry, dead).",
		}, []string{"endpoint", "outcome"}),
		checks: newCheckSeries(keepDecided),
	}
	byState := analysesByState{st: st, desc: prometheus.NewDesc("greenlight_analyses", "Analyses in the store, by state.", []string{"state"}, nil)}
	for _, c := range []prometheus.Collector{m.verdicts, m.overrides, m.decision, m.rollbacks, m.deliveries, m.checks, byState} {
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

// delivery counts one delivery attempt to an endpoint (deliveryDelivered, deliveryRetry,
// deliveryDead): whatever sends the outbox's deliveries reports each attempt here.
func (m *metrics) delivery(endpoint, outcome string) {
	m.deliveries.WithLabelValues(endpoint, outcome).Inc()
}

func (m *metrics) overridden(a store.Analysis, d verdict.Decision) {
	m.overrides.WithLabelValues(string(d), a.Spec).Inc()
}
