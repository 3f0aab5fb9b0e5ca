package specs

import (
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
)

// sourceKind is one kind of metric or trace source as the language knows it: its key under
// sources:, whether an analysis declares it, how often it is polled, and how its declaration is
// validated. sourceKindList is the one place a source kind is named in this package;
// validation, the analysis's construction (whose own map a test holds equal to SourceKinds) and
// the check's SourceKind all read it. A check kind reads a source by having a field under the
// source's key (ErrorRateCheck.Jaeger is `jaeger:`), so no list of check kinds is kept here.
//
// Adding a source — Jaeger, say — touches, in this package: its config type with its validate
// method (JaegerSource, here), its field in Sources, one entry in sourceKindList, and its
// query's field under each check kind that can read it (ErrorRateCheck.Jaeger,
// LatencyCheck.Jaeger); elsewhere: its package under analysis/ (the client, its queries, and
// a source.Kind that builds both from this package's types) and one line in analysis's
// sourceKinds map. The JSON Schema, strict decoding and "exactly one source" follow.
type sourceKind struct {
	name     string
	declared func(*Sources) bool
	interval func(*Sources) time.Duration
	validate func(d *decoder, a *Analysis)
}

var sourceKindList = []sourceKind{
	{
		name:     "datadog",
		declared: func(s *Sources) bool { return s.Datadog != nil },
		interval: func(s *Sources) time.Duration { return s.Datadog.Interval.D() },
		validate: func(d *decoder, a *Analysis) { a.Sources.Datadog.validate(d) },
	},
	{
		name:     "jaeger",
		declared: func(s *Sources) bool { return s.Jaeger != nil },
		interval: func(s *Sources) time.Duration { return s.Jaeger.Interval.D() },
		validate: func(d *decoder, a *Analysis) { a.Sources.Jaeger.validate(d, a.Environments) },
	},
	{
		name:     "prometheus",
		declared: func(s *Sources) bool { return s.Prometheus != nil },
		interval: func(s *Sources) time.Duration { return s.Prometheus.Interval.D() },
		validate: func(d *decoder, a *Analysis) { a.Sources.Prometheus.validate(d) },
	},
	{
		name:     "traces",
		declared: func(s *Sources) bool { return s.Traces != nil },
		interval: func(s *Sources) time.Duration { return s.Traces.Interval.D() },
		validate: func(d *decoder, a *Analysis) { a.Sources.Traces.validate(d, a.Environments) },
	},
}

// isSourceKind reports whether name is the key of a source kind.
func isSourceKind(name string) bool {
	for _, k := range sourceKindList {
		if k.name == name {
			return true
		}
	}
	return false
}

// validateSources validates every declared source.
func (a *Analysis) validateSources(d *decoder) {
	for _, k := range sourceKindList {
		if k.declared(&a.Sources) {
			k.validate(d, a)
		}
	}
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
	Errors string `yaml:"errors" doc:"Failed requests in the window, e.g. sum(increase(http_requests_total{color=\"{{ .env.name }}\",code=~\"5..\"}[{{ .window }}])) or 0 * <the total query> (zero while the total's series exist)."`
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

func (dd *DatadogSource) validate(d *decoder) {
	dd.apiKey = d.resolveSecret(dd.Pos, "sources.datadog.apiKey", dd.APIKey)
	dd.appKey = d.resolveSecret(dd.Pos, "sources.datadog.appKey", dd.AppKey)
	if strings.Contains(dd.Site, "/") {
		d.errs.add(dd.Pos, "sources.datadog.site %q is a site name such as datadoghq.eu, not a URL (use baseURL)", dd.Site)
	}
	if dd.BaseURL != "" {
		if !isHTTPURL(dd.BaseURL) {
			d.errs.add(dd.Pos, "sources.datadog.baseURL %s is not an http(s) URL", quoteURL(dd.BaseURL))
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
		d.errs.add(j.Pos, "sources.jaeger.url %s is not an http(s) URL", quoteURL(j.URL))
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

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return s != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (p *PrometheusSource) validate(d *decoder) {
	if !isHTTPURL(p.URL) {
		d.errs.add(p.Pos, "sources.prometheus.url %s is not an http(s) URL", quoteURL(p.URL))
	}
	d.checkLiteralHeaders(p.Pos, "sources.prometheus", p.Headers)
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
		if err := checkFile(p.caPath, MaxPEMFileSize); err != nil {
			d.errs.add(p.Pos, "sources.prometheus.caFile %q: %s", p.CAFile, describeFSError(err))
		}
	}
}
