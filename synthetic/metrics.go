package synthetic

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Skip reasons, the values of greenlight_probe_skipped_total's reason label.
const (
	SkipOverlap   = "overlap"   // the previous run of the monitor was still in flight
	SkipRateLimit = "ratelimit" // the monitor's rate cap lacked the tokens
	SkipHostLimit = "hostlimit" // a host's cap, shared with other monitors (HostLimits), lacked them
)

// probeBuckets span a fast health check on loopback to a multi-step journey on a slow day.
var probeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics exposes probe results in Prometheus form. One Metrics serves any number of Runs; to
// tell apart analyses that reuse monitor names, register it through
// prometheus.WrapRegistererWith(prometheus.Labels{"analysis": …}, reg). Its methods are safe
// for concurrent use, and a nil *Metrics records nothing.
//
//	greenlight_probe_duration_seconds  histogram  {monitor, environment, role}
//	greenlight_probe_total             counter    {monitor, environment, role, result="success"|"failure"}
//	greenlight_probe_skipped_total     counter    {monitor, reason="overlap"|"ratelimit"|"hostlimit"}
//
// The histogram holds only probes in which every step got a response, whether it passed or
// not: a probe cut short by a refused connection or a skipped step has a latency that covers
// part of the suite and would drag the distribution down.
type Metrics struct {
	duration *prometheus.HistogramVec
	probes   *prometheus.CounterVec
	skipped  *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (if not nil); it panics if they
// are registered there already, like prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "greenlight_probe_duration_seconds",
			Help:    "Response time of a synthetic probe: the sum of its steps' response times.",
			Buckets: probeBuckets,
		}, []string{"monitor", "environment", "role"}),
		probes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_probe_total",
			Help: "Synthetic probes completed, by result (success when every step passed).",
		}, []string{"monitor", "environment", "role", "result"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "greenlight_probe_skipped_total",
			Help: "Scheduled runs of a monitor not started, by reason.",
		}, []string{"monitor", "reason"}),
	}
}

// start creates a monitor's series at zero, so rates and ratios exist before the first event.
func (m *Metrics) start(monitor string, targets ...Target) {
	if m == nil {
		return
	}
	for _, t := range targets {
		m.duration.WithLabelValues(monitor, t.Name, string(t.Role))
		for _, result := range []string{"success", "failure"} {
			m.probes.WithLabelValues(monitor, t.Name, string(t.Role), result)
		}
	}
	m.skipped.WithLabelValues(monitor, SkipOverlap)
	m.skipped.WithLabelValues(monitor, SkipRateLimit)
	m.skipped.WithLabelValues(monitor, SkipHostLimit)
}

// observe records both probes of a pair of a monitor whose suite has steps steps.
func (m *Metrics) observe(p *Pair, steps int) {
	if m == nil {
		return
	}
	for _, pr := range []*Probe{&p.Baseline, &p.Candidate} {
		result := "failure"
		if pr.OK {
			result = "success"
		}
		m.probes.WithLabelValues(pr.Monitor, pr.Env, string(pr.Role), result).Inc()
		if complete(pr, steps) {
			m.duration.WithLabelValues(pr.Monitor, pr.Env, string(pr.Role)).Observe(pr.Latency.Seconds())
		}
	}
}

// skip counts a run not started.
func (m *Metrics) skip(monitor, reason string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(monitor, reason).Inc()
}
