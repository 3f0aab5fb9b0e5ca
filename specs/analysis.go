package specs

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Built-in analysis defaults, applied in one place (Analysis.applyDefaults).
const (
	DefaultMinDuration       = 30 * time.Second
	DefaultMaxDuration       = 10 * time.Minute
	DefaultFalseRollbackRate = 0.01
	DefaultRateLimit         = 20 // requests per second per environment
	DefaultOnInconclusive    = "rollback"
	// DefaultMinSuccesses and DefaultMaxErrorRate are the evidence floor: what each critical
	// check must have seen of the candidate working before a promote (policy.evidence).
	DefaultMinSuccesses = 10
	DefaultMaxErrorRate = 0.5
)

// Analysis decides one release: it smoke-tests the candidate, monitors both environments, and
// compares them check by check until every required check is decided or time runs out.
type Analysis struct {
	APIVersion   string                 `yaml:"apiVersion" doc:"Always greenlight/v1."`
	Kind         string                 `yaml:"kind" doc:"Analysis."`
	Metadata     Metadata               `yaml:"metadata"`
	Environments map[string]Environment `yaml:"environments" doc:"The deployments by name (blue, green); --env NAME=URL overrides a URL."`
	Baseline     string                 `yaml:"baseline" doc:"The environment serving users now (--baseline overrides). Colours swap every release, so roles are set per analysis."`
	Candidate    string                 `yaml:"candidate" doc:"The environment being judged (--candidate overrides)."`
	Smoke        []SuiteRef             `yaml:"smoke,omitempty" doc:"Suites (by metadata.name, or a path relative to this file) run once on the candidate before monitoring; a failure is a rollback."`
	Monitors     []Monitor              `yaml:"monitors,omitempty" doc:"Synthetic monitors, run against baseline and candidate at the same moments."`
	Sources      Sources                `yaml:"sources,omitempty" doc:"Metric systems checks can read instead of monitors."`
	Checks       []Check                `yaml:"checks" doc:"What to compare, each with its threshold."`
	Policy       Policy                 `yaml:"policy,omitempty" doc:"Durations, the false-rollback level and what an undecided analysis means."`

	File string   `yaml:"-"`
	Pos  Position `yaml:"-"`

	// SmokeSuites and each monitor's Suite are resolved when the documents are linked.
	SmokeSuites []*Suite `yaml:"-"`

	ctx *loadContext
}

// SuiteRef names a suite: its metadata.name, or the path of a file holding one suite.
type SuiteRef struct {
	Ref string
	Pos Position
}

func (r *SuiteRef) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a suite name or path")
	if !ok || isNull(n) {
		return
	}
	r.Ref, r.Pos = s, d.pos(n)
}

func (r SuiteRef) MarshalYAML() (any, error) { return r.Ref, nil }

func (r SuiteRef) isPath() bool {
	return strings.ContainsAny(r.Ref, `/\`) || strings.HasSuffix(r.Ref, ".yaml") || strings.HasSuffix(r.Ref, ".yml")
}

// Environment is one deployment.
type Environment struct {
	URL     string            `yaml:"url,omitempty" doc:"Base URL. May be left out and given with --env NAME=URL."`
	Headers map[string]string `yaml:"headers,omitempty" doc:"Headers sent with every request to this environment (a preview ingress's auth, a Host)."`
	Labels  map[string]string `yaml:"labels,omitempty" doc:"Labels for templates ({{ .env.labels.KEY }}) and later for metric queries."`
	Pos     Position          `yaml:"-"`
}

// Monitor runs a suite, or one step, against baseline and candidate at the same moments.
type Monitor struct {
	Name      string   `yaml:"name" doc:"Unique among monitors; checks name it in from."`
	Suite     SuiteRef `yaml:"suite,omitempty" doc:"A suite by metadata.name or path. Its steps' captures work as in smoke runs."`
	Step      *Step    `yaml:"step,omitempty" doc:"Or a single step written inline (its name defaults to the monitor's)."`
	Every     Duration `yaml:"every,omitempty" doc:"Run every this long (e.g. 1s). Exactly one of every and cron."`
	Cron      string   `yaml:"cron,omitempty" doc:"Or a cron schedule: five fields, six with seconds first, or @every 5s. A run still going when the next is due is skipped."`
	Jitter    Duration `yaml:"jitter,omitempty" doc:"Random delay added to each run, up to this much, the same for both environments."`
	RateLimit float64  `yaml:"rateLimit,omitempty" doc:"Most requests per second sent to one environment (default 20), so a monitor never becomes a load test."`

	// Resolved at link time: the suite the monitor runs (an inline step becomes a one-step suite).
	Resolved *Suite   `yaml:"-"`
	Pos      Position `yaml:"-"`
}

// Sources are the metric systems an analysis reads.
type Sources struct {
	Prometheus *PrometheusSource `yaml:"prometheus,omitempty" doc:"A Prometheus server (or anything with its HTTP query API)."`
	Datadog    *DatadogSource    `yaml:"datadog,omitempty" doc:"Datadog's metrics API."`
	Traces     *TracesSource     `yaml:"traces,omitempty" doc:"An OTLP/HTTP receiver for the environments' spans."`
	Jaeger     *JaegerSource     `yaml:"jaeger,omitempty" doc:"A Jaeger query service (api_v3) holding the environments' spans."`
}

// JaegerSource says how to query Jaeger.
type JaegerSource struct {
	URL       string            `yaml:"url" doc:"Query service base URL, e.g. http://jaeger-query:16686."`
	Service   string            `yaml:"service" doc:"service.name of the spans to read."`
	Attribute string            `yaml:"attribute,omitempty" doc:"Resource attribute telling the environments apart (default service.version)."`
	Values    map[string]string `yaml:"values" doc:"Attribute value → environment name, e.g. {v1: blue, v2: green}."`
	MaxTraces int               `yaml:"maxTraces,omitempty" doc:"Most traces read per query (default 1000)."`
	Timeout   Duration          `yaml:"timeout,omitempty" doc:"Per query (default 10s)."`
	Interval  Duration          `yaml:"interval,omitempty" doc:"How often checks query it (default 15s)."`
	Pos       Position          `yaml:"-"`
}

// DatadogSource says how to reach Datadog.
type DatadogSource struct {
	APIKey   *SecretRef `yaml:"apiKey,omitempty" doc:"API key (default: the DD_API_KEY environment variable)."`
	AppKey   *SecretRef `yaml:"appKey,omitempty" doc:"Application key (default: DD_APP_KEY)."`
	Site     string     `yaml:"site,omitempty" doc:"datadoghq.com, datadoghq.eu, us5.datadoghq.com … (default: DD_SITE, else datadoghq.com)."`
	BaseURL  string     `yaml:"baseURL,omitempty" doc:"An explicit API base URL, overriding site (a proxy, a test server)."`
	Timeout  Duration   `yaml:"timeout,omitempty" doc:"Per request (default 10s)."`
	Interval Duration   `yaml:"interval,omitempty" doc:"How often checks query it (default 30s)."`
	Pos      Position   `yaml:"-"`

	apiKey, appKey Secret
}

// Keys return the keys resolved at load (empty: from DD_API_KEY / DD_APP_KEY at run time).
func (d *DatadogSource) Keys() (api, app Secret) { return d.apiKey, d.appKey }

// DefaultTracesListen is where the trace receiver listens unless told otherwise: loopback, so
// only processes on the same host can feed the judge spans.
const DefaultTracesListen = "127.0.0.1:4318"

// TracesSource receives OTLP spans from both environments while the analysis runs.
type TracesSource struct {
	Listen    string            `yaml:"listen,omitempty" doc:"Address of the OTLP/HTTP receiver (default 127.0.0.1:4318, loopback only); point the apps' OTEL_EXPORTER_OTLP_ENDPOINT at it. Any other address needs token."`
	Token     *SecretRef        `yaml:"token,omitempty" doc:"Bearer token every export must carry (apps: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>), from an environment variable or a file. Required unless listen is a loopback address."`
	Attribute string            `yaml:"attribute,omitempty" doc:"Resource attribute telling the environments apart (default service.version)."`
	Values    map[string]string `yaml:"values" doc:"Attribute value → environment name, e.g. {v1: blue, v2: green}."`
	Interval  Duration          `yaml:"interval,omitempty" doc:"How often trace checks are evaluated (default 5s)."`
	Pos       Position          `yaml:"-"`

	token Secret
}

// TokenSecret returns the token resolved at load (empty: none).
func (t *TracesSource) TokenSecret() Secret { return t.token }

// loopbackListen reports whether a listen address binds loopback only. An empty host or an
// unspecified address binds every interface, and a host name may resolve to any: none is.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// TraceQuery selects spans: one operation (a span name, or "METHOD route" for HTTP servers)
// or all, optionally of one service.
type TraceQuery struct {
	Operation string `yaml:"operation,omitempty" doc:"Span name, or METHOD /route for HTTP server spans; empty: all spans."`
	Service   string `yaml:"service,omitempty" doc:"Only spans of this service.name."`
}

// DatadogCounts are an error-rate check's Datadog queries, each summed over the window.
type DatadogCounts struct {
	Errors string `yaml:"errors" doc:"e.g. default_zero(sum:trace.http.request.errors{color:{{ .env.name }}}.as_count())."`
	Total  string `yaml:"total" doc:"e.g. sum:trace.http.request.hits{color:{{ .env.name }}}.as_count()."`
}

// DatadogSeries is a value check's Datadog query: one metric query, or named queries and a formula.
type DatadogSeries struct {
	Query   string            `yaml:"query,omitempty" doc:"A v1 metric query, e.g. avg:system.cpu.user{color:{{ .env.name }}}."`
	Queries map[string]string `yaml:"queries,omitempty" doc:"Named v2 queries for formula."`
	Formula string            `yaml:"formula,omitempty" doc:"A v2 formula over queries, e.g. errors / hits."`
}

// PrometheusSource says how to reach Prometheus.
type PrometheusSource struct {
	URL         string            `yaml:"url" doc:"Base URL, e.g. http://prometheus:9090."`
	BearerToken *SecretRef        `yaml:"bearerToken,omitempty" doc:"Bearer token, from an environment variable or a file."`
	Username    string            `yaml:"username,omitempty" doc:"Basic-auth user."`
	Password    *SecretRef        `yaml:"password,omitempty" doc:"Basic-auth password, from an environment variable or a file."`
	Headers     map[string]string `yaml:"headers,omitempty" doc:"Extra headers (X-Scope-OrgID for Mimir or Thanos tenants)."`
	CAFile      string            `yaml:"caFile,omitempty" doc:"PEM file of CAs to trust, relative to this file."`
	Insecure    bool              `yaml:"insecure,omitempty" doc:"Skip certificate verification. Explicit, never a default."`
	Timeout     Duration          `yaml:"timeout,omitempty" doc:"Per query (default 10s)."`
	Interval    Duration          `yaml:"interval,omitempty" doc:"How often checks query it (default 15s)."`
	Pos         Position          `yaml:"-"`

	token, password Secret
	caPath          string
}

// Token, Secret and CAPath return what was resolved at load.
func (p *PrometheusSource) Token() Secret          { return p.token }
func (p *PrometheusSource) PasswordSecret() Secret { return p.password }
func (p *PrometheusSource) CAPath() string         { return p.caPath }

// PromCounts are an error-rate check's Prometheus queries: instant queries that each return one
// sample, templated with {{ .env.name }}, {{ .env.role }}, {{ .env.labels.KEY }} and {{ .window }}.
type PromCounts struct {
	Errors string `yaml:"errors" doc:"Failed requests in the window, e.g. sum(increase(http_requests_total{color=\"{{ .env.name }}\",code=~\"5..\"}[{{ .window }}])) or vector(0)."`
	Total  string `yaml:"total" doc:"All requests in the window."`
}

// PromBuckets is a latency check's Prometheus query: cumulative bucket counts by le.
type PromBuckets struct {
	Buckets string `yaml:"buckets" doc:"e.g. sum by (le) (increase(http_request_duration_seconds_bucket{color=\"{{ .env.name }}\"}[{{ .window }}]))."`
}

// PromSeries is a value check's Prometheus query: a range query, one point per step.
type PromSeries struct {
	Query string   `yaml:"query" doc:"One series per environment, e.g. avg(rate(process_cpu_seconds_total{color=\"{{ .env.name }}\"}[1m]))."`
	Step  Duration `yaml:"step,omitempty" doc:"Resolution (default 30s): each step is one interval compared."`
}

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

// Policy governs the run.
type Policy struct {
	MinDuration       Duration `yaml:"minDuration,omitempty" doc:"Never promote before this much monitoring (default 30s)."`
	MaxDuration       Duration `yaml:"maxDuration,omitempty" doc:"Stop here; undecided checks make the analysis inconclusive (default 10m)."`
	FalseRollbackRate *Percent `yaml:"falseRollbackRate,omitempty" doc:"Probability of rolling back a healthy candidate over the whole analysis, however often checks are evaluated (default 1%)."`
	OnInconclusive    string   `yaml:"onInconclusive,omitempty" doc:"What an inconclusive analysis becomes: rollback (default), promote, or hold (stay inconclusive, exit 2)."`
	Watch             Duration `yaml:"watch,omitempty" doc:"After promote, keep monitoring this long and turn the verdict into rollback if a regression appears (--watch overrides)."`
	ConsecutiveErrors int      `yaml:"consecutiveErrors,omitempty" doc:"A metric check whose source fails this many times in a row ends the analysis undecided, never promoted (default 3)."`
	Evidence          Evidence `yaml:"evidence,omitempty" doc:"The absolute floor under the relative checks: what the candidate must be seen doing before a promote, whatever the baseline does."`
}

// Evidence is the floor a promote needs besides passed relative checks. Relative checks cannot
// tell "both environments fine" from "both equally broken"; these numbers can. Each critical
// check applies them to what its own data shows of the candidate: successful probes, non-error
// spans, requests that did not fail; a check whose data cannot tell success from failure
// (histograms, value series) needs candidate traffic at all.
type Evidence struct {
	MinSuccesses *int64   `yaml:"minSuccesses,omitempty" doc:"Successful candidate observations every critical check that can see success must hold before a promote (default 10; 0 turns the floor off for counts, keeping maxErrorRate)."`
	MaxErrorRate *Percent `yaml:"maxErrorRate,omitempty" doc:"A candidate failing more than this share of what a critical check saw is never promoted, however the baseline fares (default 50%; 100% turns it off)."`
}

// MinOK returns evidence.minSuccesses with its default applied.
func (e Evidence) MinOK() int64 {
	if e.MinSuccesses == nil {
		return DefaultMinSuccesses
	}
	return *e.MinSuccesses
}

// MaxErrors returns evidence.maxErrorRate with its default applied.
func (e Evidence) MaxErrors() float64 {
	if e.MaxErrorRate == nil {
		return DefaultMaxErrorRate
	}
	return e.MaxErrorRate.F()
}

// Percent is a proportion written as a percentage: "1%", "0.5%".
type Percent float64

func (p *Percent) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a percentage")
	if !ok || isNull(n) {
		return
	}
	v, err := parsePercent(s)
	if err != nil {
		d.errorf(n, "%s", err)
		return
	}
	*p = Percent(v)
}

func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, "%") {
		return 0, fmt.Errorf("%q: write a percentage such as 1%% or 0.5%%", s)
	}
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(t, "%"), "%g", &v); err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// F returns the proportion (0.01 for 1%).
func (p Percent) F() float64 { return float64(p) }

func (p Percent) MarshalYAML() (any, error) {
	return fmt.Sprintf("%g%%", float64(p)*100), nil
}

var onInconclusiveValues = map[string]bool{"rollback": true, "promote": true, "hold": true}
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

// SourceKind names the source a check reads: "" for a monitor, else prometheus, datadog or traces.
func (c *Check) SourceKind() string {
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Prometheus != nil, c.Latency != nil && c.Latency.Prometheus != nil,
		c.Values != nil && c.Values.Prometheus != nil:
		return "prometheus"
	case c.ErrorRate != nil && c.ErrorRate.Datadog != nil, c.Values != nil && c.Values.Datadog != nil:
		return "datadog"
	case c.ErrorRate != nil && c.ErrorRate.Traces != nil, c.Latency != nil && c.Latency.Traces != nil, c.TraceShape != nil:
		return "traces"
	case c.ErrorRate != nil && c.ErrorRate.Jaeger != nil, c.Latency != nil && c.Latency.Jaeger != nil:
		return "jaeger"
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

func (a *Analysis) decodeNode(d *decoder, n *yaml.Node) {
	d.structValue(n, reflectValue(a).Elem(), nil)
	a.Pos = d.pos(n)
}

// validate checks one analysis on its own; link checks references to suites.
func (a *Analysis) validate(d *decoder, n *yaml.Node) {
	at := func(key string) Position {
		if v := mappingValue(n, key); v != nil {
			return d.pos(v)
		}
		return a.Pos
	}
	if a.APIVersion != APIVersion {
		d.errs.add(at("apiVersion"), "apiVersion must be %q, got %q", APIVersion, a.APIVersion)
	}
	if a.Metadata.Name == "" {
		d.errs.add(at("metadata"), "metadata.name is required")
	} else if !nameRe.MatchString(a.Metadata.Name) {
		d.errs.add(a.Metadata.Pos, "metadata.name %q may use letters, digits, '.', '_' and '-' only", a.Metadata.Name)
	}
	for name, e := range a.Environments {
		if e.URL != "" {
			if !isHTTPURL(e.URL) {
				d.errs.add(e.Pos, "environment %s: url %q is not an http(s) URL", name, e.URL)
			}
		}
		for h := range e.Headers {
			if !validHeaderName(h) {
				d.errs.add(e.Pos, "environment %s: invalid header name %q", name, h)
			}
		}
	}
	for _, role := range []struct{ key, val string }{{"baseline", a.Baseline}, {"candidate", a.Candidate}} {
		switch _, ok := a.Environments[role.val]; {
		case role.val == "":
			d.errs.add(a.Pos, "%s is required: the name of an environment", role.key)
		case !ok:
			d.errs.add(at(role.key), "%s %q is not one of the environments (%s)", role.key, role.val, strings.Join(sortedNames(a.Environments), ", "))
		}
	}
	if a.Baseline != "" && a.Baseline == a.Candidate {
		d.errs.add(at("candidate"), "baseline and candidate are both %q: compare two environments", a.Baseline)
	}
	monitors := map[string]bool{}
	for i := range a.Monitors {
		m := &a.Monitors[i]
		a.validateMonitor(d, m, monitors)
	}
	if len(a.Checks) == 0 {
		d.errs.add(at("checks"), "analysis %q has no checks: nothing could justify a promote", a.Metadata.Name)
	}
	names := map[string]bool{}
	for i := range a.Checks {
		c := &a.Checks[i]
		if c.Name == "" {
			d.errs.add(c.Pos, "check %d has no name", i+1)
		} else if names[c.Name] {
			d.errs.add(c.Pos, "duplicate check name %q", c.Name)
		}
		names[c.Name] = true
		validateCheck(d, c, monitors, a.Sources.declared())
	}
	if p := a.Sources.Prometheus; p != nil {
		p.validate(d)
	}
	if dd := a.Sources.Datadog; dd != nil {
		dd.validate(d)
	}
	if tr := a.Sources.Traces; tr != nil {
		tr.validate(d, a.Environments)
	}
	if j := a.Sources.Jaeger; j != nil {
		j.validate(d, a.Environments)
	}
	a.Policy.validate(d, at("policy"))
	a.validateEvidence(d, at("checks"))
}

// declared lists the sources the analysis configures, keyed by SourceKinds.
func (s Sources) declared() map[string]bool {
	return map[string]bool{"prometheus": s.Prometheus != nil, "datadog": s.Datadog != nil, "traces": s.Traces != nil, "jaeger": s.Jaeger != nil}
}

// SourceKinds are the keys of the metric and trace sources the language knows; the analysis
// builds one source per key, and a test holds the two lists together.
func SourceKinds() []string {
	return sortedNames(Sources{}.declared())
}

func (dd *DatadogSource) validate(d *decoder) {
	dd.apiKey = d.resolveSecret(dd.Pos, "sources.datadog.apiKey", dd.APIKey)
	dd.appKey = d.resolveSecret(dd.Pos, "sources.datadog.appKey", dd.AppKey)
	if strings.Contains(dd.Site, "/") {
		d.errs.add(dd.Pos, "sources.datadog.site %q is a site name such as datadoghq.eu, not a URL (use baseURL)", dd.Site)
	}
	if dd.BaseURL != "" {
		if !isHTTPURL(dd.BaseURL) {
			d.errs.add(dd.Pos, "sources.datadog.baseURL %q is not an http(s) URL", dd.BaseURL)
		}
	}
}

func (t *TracesSource) validate(d *decoder, envs map[string]Environment) {
	if len(t.Values) == 0 {
		d.errs.add(t.Pos, "sources.traces.values is required: which %s value is which environment, e.g. {v1: blue, v2: green}", firstOf(t.Attribute, "service.version"))
	}
	for v, env := range t.Values {
		if _, ok := envs[env]; !ok {
			d.errs.add(t.Pos, "sources.traces.values: %q maps to %q, which is not an environment", v, env)
		}
	}
	t.token = d.resolveSecret(t.Pos, "sources.traces.token", t.Token)
	if t.Listen == "" {
		return
	}
	host, _, err := net.SplitHostPort(t.Listen)
	if err != nil {
		d.errs.add(t.Pos, "sources.traces.listen %q: want host:port or :port", t.Listen)
		return
	}
	if t.Token == nil && !loopbackListen(t.Listen) {
		why := "is not a loopback address"
		if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
			why = "listens on every interface"
		} else if err != nil {
			why = "names a host, which may resolve to any interface"
		}
		d.errs.add(t.Pos, "sources.traces.listen %q %s, so anyone who can reach it could post spans that decide the verdict: "+
			"add token: {env: OTLP_TOKEN} (or {file: …}) and give the apps OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%%20<token>, "+
			"or listen on loopback (%s)", t.Listen, why, DefaultTracesListen)
	}
}

func (j *JaegerSource) validate(d *decoder, envs map[string]Environment) {
	if !isHTTPURL(j.URL) {
		d.errs.add(j.Pos, "sources.jaeger.url %q is not an http(s) URL", j.URL)
	}
	if j.Service == "" {
		d.errs.add(j.Pos, "sources.jaeger.service is required: the service.name of the spans")
	}
	if len(j.Values) == 0 {
		d.errs.add(j.Pos, "sources.jaeger.values is required: which %s value is which environment", firstOf(j.Attribute, "service.version"))
	}
	for v, env := range j.Values {
		if _, ok := envs[env]; !ok {
			d.errs.add(j.Pos, "sources.jaeger.values: %q maps to %q, which is not an environment", v, env)
		}
	}
	if j.MaxTraces < 0 {
		d.errs.add(j.Pos, "sources.jaeger.maxTraces must be positive")
	}
}

// resolveSecret reads a source's secret reference at load; nil gives no secret.
func (d *decoder) resolveSecret(pos Position, key string, ref *SecretRef) Secret {
	if ref == nil {
		return ""
	}
	v, problem := ref.resolve(d.ctx.dir(), d.ctx.lookup)
	if problem != "" {
		d.errs.add(pos, "%s: %s", key, problem)
	}
	d.ctx.found = append(d.ctx.found, v)
	return v
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return s != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *PrometheusSource) validate(d *decoder) {
	if !isHTTPURL(p.URL) {
		d.errs.add(p.Pos, "sources.prometheus.url %q is not an http(s) URL", p.URL)
	}
	if p.BearerToken != nil && p.Username != "" {
		d.errs.add(p.Pos, "sources.prometheus: use bearerToken or username/password, not both")
	}
	if (p.Username == "") != (p.Password == nil) {
		d.errs.add(p.Pos, "sources.prometheus: username and password go together")
	}
	p.token = d.resolveSecret(p.Pos, "sources.prometheus.bearerToken", p.BearerToken)
	p.password = d.resolveSecret(p.Pos, "sources.prometheus.password", p.Password)
	if p.CAFile != "" {
		p.caPath = resolvePath(d.ctx.dir(), p.CAFile)
		if _, err := statFile(p.caPath); err != nil {
			d.errs.add(p.Pos, "sources.prometheus.caFile %q: %s", p.CAFile, err)
		}
	}
}

func (a *Analysis) validateMonitor(d *decoder, m *Monitor, seen map[string]bool) {
	switch {
	case m.Name == "":
		d.errs.add(m.Pos, "monitor has no name")
	case seen[m.Name]:
		d.errs.add(m.Pos, "duplicate monitor name %q", m.Name)
	}
	seen[m.Name] = true
	if (m.Suite.Ref == "") == (m.Step == nil) {
		d.errs.add(m.Pos, "monitor %q: give exactly one of suite and step", m.Name)
	}
	if (m.Every == 0) == (m.Cron == "") {
		d.errs.add(m.Pos, "monitor %q: give exactly one of every and cron", m.Name)
	}
	if m.Every != 0 && m.Every.D() < 10*time.Millisecond {
		d.errs.add(m.Pos, "monitor %q: every %s is too often (at least 10ms)", m.Name, m.Every)
	}
	if m.Cron != "" {
		if _, err := ParseCron(m.Cron); err != nil {
			d.errs.add(m.Pos, "monitor %q: invalid cron %q: %s", m.Name, m.Cron, err)
		}
	}
	if m.RateLimit < 0 {
		d.errs.add(m.Pos, "monitor %q: rateLimit must be positive", m.Name)
	}
	if m.Step != nil {
		if m.Step.Name == "" {
			m.Step.Name = m.Name
		}
		if m.Step.Env != "" {
			d.errs.add(m.Step.Pos, "monitor %q: a monitor's step runs on both environments; it cannot name one", m.Name)
		}
		if m.Step.Config != nil {
			m.Step.Config.validate(d, m.Step)
		}
	}
}

// ParseCron parses a monitor's cron schedule: five fields, or six with seconds first, or a
// descriptor such as @every 5s.
func ParseCron(spec string) (cron.Schedule, error) {
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	return p.Parse(spec)
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

func (p *Policy) validate(d *decoder, pos Position) {
	if p.MinDuration != 0 && p.MaxDuration != 0 && p.MinDuration > p.MaxDuration {
		d.errs.add(pos, "policy: minDuration (%s) is longer than maxDuration (%s)", p.MinDuration, p.MaxDuration)
	}
	if p.FalseRollbackRate != nil && !(p.FalseRollbackRate.F() > 0 && p.FalseRollbackRate.F() < 0.5) {
		d.errs.add(pos, "policy: falseRollbackRate must be above 0%% and below 50%%")
	}
	if p.ConsecutiveErrors < 0 {
		d.errs.add(pos, "policy: consecutiveErrors must be at least 1")
	}
	if p.OnInconclusive != "" && !onInconclusiveValues[p.OnInconclusive] {
		d.errs.add(pos, "policy: onInconclusive must be rollback, promote or hold, got %q", p.OnInconclusive)
	}
	if m := p.Evidence.MinSuccesses; m != nil && *m < 0 {
		d.errs.add(pos, "policy: evidence.minSuccesses must be 0 or more, got %d", *m)
	}
}

// validateEvidence refuses analyses that could promote without evidence: every check advisory
// (nothing decisive could ever pass), or no critical check able to see the candidate succeed
// while the evidence floor is on.
func (a *Analysis) validateEvidence(d *decoder, pos Position) {
	if len(a.Checks) == 0 {
		return // reported already
	}
	critical, seeing := 0, 0
	for i := range a.Checks {
		if c := &a.Checks[i]; c.IsCritical() {
			critical++
			if c.SeesSuccess() {
				seeing++
			}
		}
	}
	switch {
	case critical == 0:
		d.errs.add(pos, "analysis %q has no critical check: advisory checks never decide, so nothing could justify a promote (make one check critical: true)", a.Metadata.Name)
	case seeing == 0 && a.Policy.Evidence.MinOK() != 0:
		d.errs.add(pos, "analysis %q: no critical check can see %s succeed (latency histograms, value series and trace shapes show traffic, not success), so a promote would rest on no evidence that it works; add a critical errorRate check, or a check from a monitor or from traces (or set policy.evidence.minSuccesses: 0 to accept traffic alone)", a.Metadata.Name, roleName(a.Candidate, "the candidate"))
	}
}

func roleName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

func (a *Analysis) applyDefaults() {
	p := &a.Policy
	if p.MinDuration == 0 {
		p.MinDuration = Duration(DefaultMinDuration)
	}
	if p.MaxDuration == 0 {
		p.MaxDuration = Duration(DefaultMaxDuration)
		if p.MinDuration > p.MaxDuration {
			p.MaxDuration = p.MinDuration
		}
	}
	if p.FalseRollbackRate == nil {
		r := Percent(DefaultFalseRollbackRate)
		p.FalseRollbackRate = &r
	}
	if p.OnInconclusive == "" {
		p.OnInconclusive = DefaultOnInconclusive
	}
	if p.ConsecutiveErrors == 0 {
		p.ConsecutiveErrors = 3
	}
	if pr := a.Sources.Prometheus; pr != nil {
		if pr.Timeout == 0 {
			pr.Timeout = Duration(10 * time.Second)
		}
		if pr.Interval == 0 {
			pr.Interval = Duration(15 * time.Second)
		}
	}
	if dd := a.Sources.Datadog; dd != nil {
		if dd.Timeout == 0 {
			dd.Timeout = Duration(10 * time.Second)
		}
		if dd.Interval == 0 {
			dd.Interval = Duration(30 * time.Second)
		}
	}
	if j := a.Sources.Jaeger; j != nil {
		if j.Timeout == 0 {
			j.Timeout = Duration(10 * time.Second)
		}
		if j.Interval == 0 {
			j.Interval = Duration(15 * time.Second)
		}
	}
	if tr := a.Sources.Traces; tr != nil {
		if tr.Listen == "" {
			tr.Listen = DefaultTracesListen
		}
		if tr.Attribute == "" {
			tr.Attribute = "service.version"
		}
		if tr.Interval == 0 {
			tr.Interval = Duration(5 * time.Second)
		}
	}
	for i := range a.Monitors {
		if a.Monitors[i].RateLimit == 0 {
			a.Monitors[i].RateLimit = DefaultRateLimit
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string { return sortedNames(m) }
