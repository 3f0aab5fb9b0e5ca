package specs

import (
	"sort"
	"time"
)

// sourceKind is one kind of metric or trace source as the language knows it: its key under
// sources:, whether an analysis declares it, how often it is polled, and which checks read it.
// sourceKindList is the one place a source kind is named in this package; validation, the
// analysis's construction (whose own map a test holds equal to SourceKinds) and the check's
// SourceKind all read it. Adding a source is one entry here, its config type in Sources, and
// its key under the check kinds that can read it.
type sourceKind struct {
	name     string
	declared func(*Sources) bool
	interval func(*Sources) time.Duration
	readBy   func(*Check) bool
}

var sourceKindList = []sourceKind{
	{
		name:     "datadog",
		declared: func(s *Sources) bool { return s.Datadog != nil },
		interval: func(s *Sources) time.Duration { return s.Datadog.Interval.D() },
		readBy: func(c *Check) bool {
			return c.ErrorRate != nil && c.ErrorRate.Datadog != nil || c.Values != nil && c.Values.Datadog != nil
		},
	},
	{
		name:     "jaeger",
		declared: func(s *Sources) bool { return s.Jaeger != nil },
		interval: func(s *Sources) time.Duration { return s.Jaeger.Interval.D() },
		readBy: func(c *Check) bool {
			return c.ErrorRate != nil && c.ErrorRate.Jaeger != nil || c.Latency != nil && c.Latency.Jaeger != nil
		},
	},
	{
		name:     "prometheus",
		declared: func(s *Sources) bool { return s.Prometheus != nil },
		interval: func(s *Sources) time.Duration { return s.Prometheus.Interval.D() },
		readBy: func(c *Check) bool {
			return c.ErrorRate != nil && c.ErrorRate.Prometheus != nil || c.Latency != nil && c.Latency.Prometheus != nil ||
				c.Values != nil && c.Values.Prometheus != nil
		},
	},
	{
		name:     "traces",
		declared: func(s *Sources) bool { return s.Traces != nil },
		interval: func(s *Sources) time.Duration { return s.Traces.Interval.D() },
		readBy: func(c *Check) bool {
			return c.ErrorRate != nil && c.ErrorRate.Traces != nil || c.Latency != nil && c.Latency.Traces != nil || c.TraceShape != nil
		},
	},
}

// SourceKinds are the keys of the metric and trace sources the language knows, sorted.
func SourceKinds() []string {
	out := make([]string, len(sourceKindList))
	for i, k := range sourceKindList {
		out[i] = k.name
	}
	sort.Strings(out)
	return out
}

// SourceKind names the source a check reads: "" for a monitor, else one of SourceKinds.
func (c *Check) SourceKind() string {
	for _, k := range sourceKindList {
		if k.readBy(c) {
			return k.name
		}
	}
	return ""
}

// declared lists the sources the analysis configures, keyed by SourceKinds.
func (s Sources) declared() map[string]bool {
	out := make(map[string]bool, len(sourceKindList))
	for _, k := range sourceKindList {
		out[k.name] = k.declared(&s)
	}
	return out
}

// Declared reports whether the analysis configures the source kind.
func (s *Sources) Declared(kind string) bool {
	for _, k := range sourceKindList {
		if k.name == kind {
			return k.declared(s)
		}
	}
	return false
}

// Interval is how often a declared source kind is polled (its interval, defaults applied).
func (s *Sources) Interval(kind string) time.Duration {
	for _, k := range sourceKindList {
		if k.name == kind && k.declared(s) {
			return k.interval(s)
		}
	}
	return 0
}
