package server

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// DefaultMetricsDecided is how many decided analyses keep their per-check series in /metrics.
const DefaultMetricsDecided = 20

// checkStates are the states a check's state series are labelled with, one series each.
var checkStates = []compare.State{compare.Pass, compare.Inconclusive, compare.Error, compare.Fail}

// checkSeries are the per-analysis series of /metrics: each check's state and the intervals
// and limits it is judged by, and each running analysis's elapsed time and limit. They are
// labelled by analysis id, so their number is bounded: the running analyses' series, and those
// of the newest `keep` decided ones; an older decided analysis's series are removed. A restart
// starts them empty: the running analyses come back at their first tick.
type checkSeries struct {
	keep int

	mu      sync.Mutex
	byID    map[string]*analysisSeries
	decided []string // decided analyses whose series are still kept, oldest first

	state, effect, limit, samples, elapsed, phaseLimit *prometheus.Desc
}

type analysisSeries struct {
	spec    string
	phase   verdict.Phase
	elapsed time.Duration
	limit   time.Duration
	decided bool
	checks  []verdict.CheckResult
}

func newCheckSeries(keep int) *checkSeries {
	ids := []string{"analysis", "spec", "check"}
	with := func(extra ...string) []string { return append(append([]string(nil), ids...), extra...) }
	return &checkSeries{keep: keep, byID: map[string]*analysisSeries{},
		state: prometheus.NewDesc("greenlight_check_state",
			"A check's latest state: 1 for the state it is in, 0 for the others.", with("state"), nil),
		effect: prometheus.NewDesc("greenlight_check_effect",
			"The effect a check's limit bounds (ratio, difference, candidate, statistic): its estimate and its interval's ends (bound value, lower, upper); ±Inf while unbounded.", with("effect", "bound"), nil),
		limit: prometheus.NewDesc("greenlight_check_limit",
			"The limit of a check's effect: the interval above max (or below min) is a fail.", with("effect", "side"), nil),
		samples: prometheus.NewDesc("greenlight_check_samples",
			"The samples a check has of each side (baseline, candidate).", with("side"), nil),
		elapsed: prometheus.NewDesc("greenlight_analysis_elapsed_seconds",
			"How long a running analysis has been in its phase.", []string{"analysis", "spec", "phase"}, nil),
		phaseLimit: prometheus.NewDesc("greenlight_analysis_limit_seconds",
			"The limit of a running analysis's phase (maxDuration, watch).", []string{"analysis", "spec", "phase"}, nil),
	}
}

// tick records a running analysis's latest checks.
func (cs *checkSeries) tick(a store.Analysis, phase verdict.Phase, elapsed, limit time.Duration, checks []verdict.CheckResult) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s, ok := cs.byID[a.ID]
	if !ok {
		s = &analysisSeries{spec: a.Spec}
		cs.byID[a.ID] = s
	}
	if s.decided {
		return
	}
	s.phase, s.elapsed, s.limit = phase, elapsed, limit
	s.checks = append(s.checks[:0], checks...)
}

// decide records an analysis's final checks and drops the series of the oldest decided
// analyses beyond keep.
func (cs *checkSeries) decide(a store.Analysis, v *verdict.Verdict) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s, ok := cs.byID[a.ID]
	if !ok {
		s = &analysisSeries{spec: a.Spec}
		cs.byID[a.ID] = s
	}
	if !s.decided {
		cs.decided = append(cs.decided, a.ID)
	}
	s.decided, s.phase = true, v.Phase
	s.checks = append([]verdict.CheckResult(nil), v.Checks...)
	for len(cs.decided) > cs.keep {
		delete(cs.byID, cs.decided[0])
		cs.decided = cs.decided[1:]
	}
}

func (cs *checkSeries) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cs.state, cs.effect, cs.limit, cs.samples, cs.elapsed, cs.phaseLimit} {
		ch <- d
	}
}

func (cs *checkSeries) Collect(ch chan<- prometheus.Metric) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for id, s := range cs.byID {
		if !s.decided {
			gauge(cs.elapsed, s.elapsed.Seconds(), id, s.spec, string(s.phase))
			if s.limit > 0 {
				gauge(cs.phaseLimit, s.limit.Seconds(), id, s.spec, string(s.phase))
			}
		}
		seen := map[string]bool{}
		for _, c := range s.checks {
			if seen[c.Name] {
				continue // one series per check name
			}
			seen[c.Name] = true
			for _, st := range checkStates {
				v := 0.0
				if c.State == st {
					v = 1
				}
				gauge(cs.state, v, id, s.spec, c.Name, string(st))
			}
			gauge(cs.samples, float64(c.Baseline.N), id, s.spec, c.Name, "baseline")
			gauge(cs.samples, float64(c.Candidate.N), id, s.spec, c.Name, "candidate")
			for _, l := range c.Limits() {
				gauge(cs.effect, l.Interval.Value, id, s.spec, c.Name, l.Effect, "value")
				gauge(cs.effect, l.Interval.Lower, id, s.spec, c.Name, l.Effect, "lower")
				gauge(cs.effect, l.Interval.Upper, id, s.spec, c.Name, l.Effect, "upper")
				if !math.IsInf(l.Max, 1) {
					gauge(cs.limit, l.Max, id, s.spec, c.Name, l.Effect, "max")
				}
				if !math.IsInf(l.Min, -1) {
					gauge(cs.limit, l.Min, id, s.spec, c.Name, l.Effect, "min")
				}
			}
		}
	}
}
