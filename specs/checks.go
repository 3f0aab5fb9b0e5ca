package specs

import (
	"regexp"
	"strings"
	"text/template"
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
}

// TraceShapeCheck compares the structure of the environments' traces.
type TraceShapeCheck struct {
	MaxAmplification float64 `yaml:"maxAmplification,omitempty" doc:"Spans of an operation per request may grow at most this factor (default 2)."`
	Persist          int     `yaml:"persist,omitempty" doc:"A finding must be seen in this many evaluations in a row to fail the check (default 3)."`
}

var directionValues = map[string]bool{"": true, "increase": true, "decrease": true, "either": true}

// checkKinds are the keys of a check's kind, in the order reported.
var checkKinds = []string{"errorRate", "latency", "shift", "values"}

// Kind returns the check's kind key, or "".
func (c *Check) Kind() string {
	switch {
	case c.ErrorRate != nil:
		return "errorRate"
	case c.Latency != nil:
		return "latency"
	case c.Shift != nil:
		return "shift"
	case c.Values != nil:
		return "values"
	case c.TraceShape != nil:
		return "traceShape"
	}
	return ""
}

// UsesPrometheus reports whether the check reads Prometheus rather than a monitor.
func (c *Check) UsesPrometheus() bool { return c.SourceKind() == "prometheus" }

// UsesSource reports whether the check reads a metric or trace source rather than a monitor.
func (c *Check) UsesSource() bool { return c.SourceKind() != "" }

// IsCritical reports whether a failure of the check means rollback. Trace-shape findings are
// heuristics, so that check is advisory unless it says critical: true.
func (c *Check) IsCritical() bool {
	if c.Critical == nil {
		return c.TraceShape == nil
	}
	return *c.Critical
}

// SeesSuccess reports whether the check's data tells the candidate's successes from its
// failures: probes of a monitor, error counts, spans (which carry an error status). Latency
// histograms, value series and trace shapes only show that there was traffic.
func (c *Check) SeesSuccess() bool {
	switch {
	case c.TraceShape != nil, c.Values != nil:
		return false
	case c.Latency != nil && c.Latency.Prometheus != nil:
		return false
	}
	return true
}

// Source returns where the check's observations come from.
func (c *Check) Source() CheckSource {
	switch {
	case c.ErrorRate != nil:
		return c.ErrorRate.CheckSource
	case c.Latency != nil:
		return c.Latency.CheckSource
	case c.Shift != nil:
		return c.Shift.CheckSource
	}
	return CheckSource{}
}

func validateCheck(d *decoder, c *Check, monitors map[string]bool, declared map[string]bool) {
	kinds := 0
	for _, set := range []bool{c.ErrorRate != nil, c.Latency != nil, c.Shift != nil, c.Values != nil, c.TraceShape != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		d.errs.add(c.Pos, "check %q: give exactly one of %s", c.Name, strings.Join(checkKinds, ", "))
		return
	}
	src := c.Source()
	if n := c.sourceCount(); n > 1 || n == 1 && src.From != "" {
		d.errs.add(c.Pos, "check %q: read exactly one of a monitor (from), prometheus, datadog, traces", c.Name)
		return
	}
	switch kind := c.SourceKind(); {
	case kind != "":
		if !declared[kind] {
			d.errs.add(c.Pos, "check %q reads %s: declare sources.%s", c.Name, kind, kind)
		}
		c.validatePromQueries(d)
	case src.From == "":
		d.errs.add(c.Pos, "check %q: from is required (a monitor name, or a prometheus query)", c.Name)
	case !monitors[src.From]:
		d.errs.add(c.Pos, "check %q: from %q is not a monitor (%s)", c.Name, src.From, strings.Join(sortedKeys(monitors), ", "))
	}
	switch {
	case c.ErrorRate != nil:
		e := c.ErrorRate
		if e.MaxIncrease == nil && e.MaxRatio == nil && e.Max == nil {
			d.errs.add(c.Pos, "check %q: errorRate needs maxIncrease, maxRatio or max", c.Name)
		}
		if e.MaxRatio != nil && *e.MaxRatio <= 0 {
			d.errs.add(c.Pos, "check %q: maxRatio must be positive", c.Name)
		}
	case c.Latency != nil:
		l := c.Latency
		if !(l.Percentile > 0 && l.Percentile < 100) {
			d.errs.add(c.Pos, "check %q: percentile must be between 0 and 100 (e.g. 95 or 99.9), got %v", c.Name, l.Percentile)
		}
		if l.MaxRatio == nil && l.MaxIncrease == nil && l.Max == nil {
			d.errs.add(c.Pos, "check %q: latency needs maxRatio, maxIncrease or max", c.Name)
		}
		if l.MaxRatio != nil && *l.MaxRatio <= 0 {
			d.errs.add(c.Pos, "check %q: maxRatio must be positive", c.Name)
		}
		if !directionValues[l.Direction] {
			d.errs.add(c.Pos, "check %q: direction must be increase, decrease or either", c.Name)
		}
	case c.TraceShape != nil:
		if c.TraceShape.MaxAmplification != 0 && c.TraceShape.MaxAmplification <= 1 {
			d.errs.add(c.Pos, "check %q: maxAmplification must be above 1", c.Name)
		}
		if c.TraceShape.Persist < 0 {
			d.errs.add(c.Pos, "check %q: persist must be at least 1", c.Name)
		}
	case c.Values != nil:
		if !criterionRe.MatchString(c.Values.Criterion) {
			d.errs.add(c.Pos, "check %q: criterion %q: want an operator, an optional sign, a number and an optional %%, e.g. <=+10%%", c.Name, c.Values.Criterion)
		}
	case c.Shift != nil:
		if !(c.Shift.MaxProbability >= 0.5 && c.Shift.MaxProbability < 1) {
			d.errs.add(c.Pos, "check %q: maxProbability must be in [0.5, 1), got %v", c.Name, c.Shift.MaxProbability)
		}
		if !directionValues[c.Shift.Direction] {
			d.errs.add(c.Pos, "check %q: direction must be increase, decrease or either", c.Name)
		}
	}
}

// criterionRe is the Keptn criterion grammar, checked here for a positioned error; compare
// gives it meaning.
var criterionRe = regexp.MustCompile(`^\s*(<=|<|>=|>)\s*[+-]?\s*[0-9]+(\.[0-9]+)?\s*%?\s*$`)

// sourceCount counts the metric and trace sources a check names.
func (c *Check) sourceCount() int {
	n := 0
	add := func(set bool) {
		if set {
			n++
		}
	}
	if e := c.ErrorRate; e != nil {
		add(e.Prometheus != nil)
		add(e.Datadog != nil)
		add(e.Traces != nil)
		add(e.Jaeger != nil)
	}
	if l := c.Latency; l != nil {
		add(l.Prometheus != nil)
		add(l.Traces != nil)
		add(l.Jaeger != nil)
	}
	if v := c.Values; v != nil {
		add(v.Prometheus != nil)
		add(v.Datadog != nil)
	}
	add(c.TraceShape != nil)
	return n
}

// validatePromQueries parses the check's query templates at load.
func (c *Check) validatePromQueries(d *decoder) {
	var texts []struct{ key, text string }
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Prometheus != nil:
		texts = append(texts, struct{ key, text string }{"errors", c.ErrorRate.Prometheus.Errors}, struct{ key, text string }{"total", c.ErrorRate.Prometheus.Total})
	case c.Latency != nil && c.Latency.Prometheus != nil:
		texts = append(texts, struct{ key, text string }{"buckets", c.Latency.Prometheus.Buckets})
	case c.Values != nil && c.Values.Prometheus != nil:
		texts = append(texts, struct{ key, text string }{"query", c.Values.Prometheus.Query})
	case c.Values != nil && c.Values.Datadog != nil:
		dd := c.Values.Datadog
		if (dd.Query == "") == (dd.Formula == "") || (dd.Formula != "") != (len(dd.Queries) > 0) {
			d.errs.add(c.Pos, "check %q: datadog takes a query, or queries with a formula", c.Name)
		}
	case c.Values != nil:
		d.errs.add(c.Pos, "check %q: values needs prometheus or datadog", c.Name)
		return
	case c.ErrorRate != nil && c.ErrorRate.Datadog != nil:
		for key, text := range map[string]string{"errors": c.ErrorRate.Datadog.Errors, "total": c.ErrorRate.Datadog.Total} {
			if strings.TrimSpace(text) == "" {
				d.errs.add(c.Pos, "check %q: datadog.%s is required", c.Name, key)
			}
		}
	}
	for _, t := range texts {
		if strings.TrimSpace(t.text) == "" {
			d.errs.add(c.Pos, "check %q: prometheus.%s is required", c.Name, t.key)
			continue
		}
		if _, err := template.New("t").Option("missingkey=error").Parse(t.text); err != nil {
			d.errs.add(c.Pos, "check %q: prometheus.%s: invalid template: %s", c.Name, t.key, cleanTemplateErr(err))
		}
	}
}
