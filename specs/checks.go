package specs

import (
	"fmt"
	"regexp"
)

// Check compares one measure between baseline and candidate.
type Check struct {
	Name       string           `yaml:"name" doc:"Unique among checks."`
	Critical   *bool            `yaml:"critical,omitempty" doc:"A failed critical check means rollback (default true); a non-critical one is advisory: reported, never decisive."`
	ErrorRate  *ErrorRateCheck  `yaml:"errorRate,omitempty" doc:"Compare error proportions."`
	Latency    *LatencyCheck    `yaml:"latency,omitempty" doc:"Compare a latency percentile."`
	Shift      *ShiftCheck      `yaml:"shift,omitempty" doc:"Compare whole latency distributions: P(candidate slower than baseline)."`
	Values     *ValuesCheck     `yaml:"values,omitempty" doc:"Compare a series with one number per interval (CPU, memory, queue depth), Keptn-style."`
	TraceShape *TraceShapeCheck `yaml:"traceShape,omitempty" doc:"Compare how requests look in the received traces: new downstream operations, spans per request (N+1), new error spans. Advisory unless critical: true."`
	Pos        Position         `yaml:"-"`
}

// CheckSource names where a check's observations come from.
type CheckSource struct {
	From string `yaml:"from,omitempty" doc:"The monitor whose probes feed the check."`
	Step string `yaml:"step,omitempty" doc:"Only this step of the monitor's suite (default: the whole run — failed if any step failed, latency summed over its steps)."`
}

// ErrorRateCheck compares error proportions: maxIncrease in percentage points (1% = one point),
// maxRatio as a factor, max as an absolute ceiling on the candidate.
type ErrorRateCheck struct {
	CheckSource `yaml:",inline"`
	MaxIncrease *Percent       `yaml:"maxIncrease,omitempty" doc:"Candidate's rate at most this many percentage points above the baseline's: 1% or 0.5%."`
	MaxRatio    *float64       `yaml:"maxRatio,omitempty" doc:"Candidate's rate at most this multiple of the baseline's."`
	Max         *Percent       `yaml:"max,omitempty" doc:"Absolute ceiling on the candidate's rate (an SLO): 2%."`
	MinSamples  int64          `yaml:"minSamples,omitempty" doc:"Probes per side before any decision (default 20)."`
	Prometheus  *PromCounts    `yaml:"prometheus,omitempty" doc:"Or read the counts from Prometheus instead of a monitor."`
	Datadog     *DatadogCounts `yaml:"datadog,omitempty" doc:"Or from Datadog."`
	Traces      *TraceQuery    `yaml:"traces,omitempty" doc:"Or count error spans of an operation in the received traces."`
	Jaeger      *TraceQuery    `yaml:"jaeger,omitempty" doc:"Or count error spans of an operation in Jaeger."`
}

// LatencyCheck compares a percentile of latency.
type LatencyCheck struct {
	CheckSource `yaml:",inline"`
	Percentile  float64      `yaml:"percentile" doc:"50, 95, 99, 99.9 …"`
	MaxRatio    *float64     `yaml:"maxRatio,omitempty" doc:"Candidate's percentile at most this multiple of the baseline's (1.2 = 20% slower)."`
	MaxIncrease *Duration    `yaml:"maxIncrease,omitempty" doc:"Candidate's percentile at most this much slower: 50ms."`
	Max         *Duration    `yaml:"max,omitempty" doc:"Absolute ceiling on the candidate's percentile (an SLO): 300ms."`
	Direction   string       `yaml:"direction,omitempty" doc:"increase (default: slower is worse), decrease or either."`
	MinSamples  int64        `yaml:"minSamples,omitempty" doc:"Probes per side before any decision (default 20)."`
	Prometheus  *PromBuckets `yaml:"prometheus,omitempty" doc:"Or read a histogram from Prometheus; bounds are then bucket edges."`
	Traces      *TraceQuery  `yaml:"traces,omitempty" doc:"Or the durations of an operation's spans in the received traces."`
	Jaeger      *TraceQuery  `yaml:"jaeger,omitempty" doc:"Or the durations of an operation's spans in Jaeger."`
}

// ShiftCheck compares whole distributions with a rank statistic.
type ShiftCheck struct {
	CheckSource    `yaml:",inline"`
	MaxProbability float64 `yaml:"maxProbability" doc:"Largest allowed P(candidate slower than baseline), in [0.5, 1): 0.6."`
	Direction      string  `yaml:"direction,omitempty" doc:"increase (default), decrease or either."`
	MinSamples     int64   `yaml:"minSamples,omitempty" doc:"Pairs before any decision (default 20)."`
}

// ValuesCheck compares value series with a Keptn-style criterion.
type ValuesCheck struct {
	Prometheus *PromSeries    `yaml:"prometheus,omitempty" doc:"The series to read from Prometheus."`
	Datadog    *DatadogSeries `yaml:"datadog,omitempty" doc:"Or from Datadog."`
	Criterion  string         `yaml:"criterion" doc:"<=+10% (at most 10% above the baseline), <+5 (at most 5 above), >=-10%, or an absolute <=800."`
	MinSamples int64          `yaml:"minSamples,omitempty" doc:"Intervals before any decision (default 20)."`

	readsMonitor bool // written with from or step: refused while decoding, with the reason
}

// TraceShapeCheck compares the structure of the environments' traces.
type TraceShapeCheck struct {
	MaxAmplification float64 `yaml:"maxAmplification,omitempty" doc:"Spans of an operation per request may grow at most this factor (default 2)."`
	Persist          int     `yaml:"persist,omitempty" doc:"A finding must be seen in this many evaluations in a row to fail the check (default 3)."`
}

// refuseField explains from and step, which a values check cannot take: it reads a metric
// source, never a monitor. Validation then says nothing more about the missing source.
func (v *ValuesCheck) refuseField(key string) string {
	if key != "from" && key != "step" {
		return ""
	}
	v.readsMonitor = true
	return fmt.Sprintf("%s: a values check reads a series from prometheus or datadog, not a monitor's probes (for those use errorRate, latency or shift)", key)
}

func (t *TraceShapeCheck) refuseField(key string) string {
	if key != "from" && key != "step" {
		return ""
	}
	return fmt.Sprintf("%s: a traceShape check reads the received traces (sources.traces), not a monitor's probes", key)
}

var directionValues = map[string]bool{"": true, "increase": true, "decrease": true, "either": true}

// criterionRe is the Keptn criterion grammar, checked here for a positioned error; compare
// gives it meaning.
var criterionRe = regexp.MustCompile(`^\s*(<=|<|>=|>)\s*[+-]?\s*[0-9]+(\.[0-9]+)?\s*%?\s*$`)
