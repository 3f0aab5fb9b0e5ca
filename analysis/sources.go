package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/greenlight/greenlight/analysis/datadog"
	"github.com/greenlight/greenlight/analysis/jaeger"
	"github.com/greenlight/greenlight/analysis/prometheus"
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// sources are the metric and trace sources one analysis declares, built once for the whole run
// (the trace receiver must keep receiving across phases).
type sources struct {
	a *specs.Analysis
	// clients are the declared sources by kind (specs.SourceKinds); the trace source is the
	// view below.
	clients map[string]source.Source
	traces  *traces.View     // the analysis's view of a trace receiver: its own, or the Engine's
	rcv     *traces.Receiver // its own trace receiver; nil with the Engine's
	srv     *http.Server
	addr    string // where the trace receiver is served
}

// sharedTraces is the Engine's trace receiver, when it has one (EngineOptions.Traces), and
// where the process serves it.
type sharedTraces struct {
	rcv  *traces.Receiver
	addr string
}

// network is where the sources connect and the trace receiver listens; the zero value is the
// host's network (Options.DialContext and Options.Listen replace it).
type network struct {
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	listen func(network, addr string) (net.Listener, error)
}

// client is an HTTP client dialling through the network, or nil (the source's own default)
// on the host's.
func (n network) client() *http.Client {
	if n.dial == nil {
		return nil
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: n.dial}}
}

// newSources builds what the analysis declares and starts its own trace receiver's listener;
// with a shared receiver it takes a view of that one instead, and sources.traces.listen is not
// used. Close the sources when the run ends.
func newSources(a *specs.Analysis, logger *slog.Logger, lookupEnv func(string) (string, bool), nw network, shared sharedTraces) (*sources, error) {
	s, err := buildSources(a, logger, lookupEnv, nw, shared)
	if err != nil {
		return nil, err
	}
	if err := s.listen(nw); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// buildSources builds the clients and the trace view the analysis declares, without I/O:
// Compile binds every check to them to refuse a bad query before anything runs. Without a shared
// receiver the view is of a receiver of the analysis's own, which listen serves.
func buildSources(a *specs.Analysis, logger *slog.Logger, lookupEnv func(string) (string, bool), nw network, shared sharedTraces) (*sources, error) {
	s := &sources{a: a, clients: map[string]source.Source{}}
	env := sourceEnv{logger: logger, lookupEnv: lookupEnv, nw: nw, shared: shared, s: s}
	for _, kind := range specs.SourceKinds() {
		if !a.Sources.Declared(kind) {
			continue
		}
		build, ok := sourceBuilders[kind]
		if !ok {
			return nil, fmt.Errorf("sources.%s: this build of greenlight cannot read it", kind)
		}
		src, err := build(a, env)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sources.%s: %w", kind, err)
		}
		s.clients[kind] = src
	}
	return s, nil
}

// sourceEnv is what a source is built with.
type sourceEnv struct {
	logger    *slog.Logger
	lookupEnv func(string) (string, bool)
	nw        network
	shared    sharedTraces
	s         *sources // the trace source keeps its receiver and view here
}

// sourceBuilders build each kind of source from the analysis's declaration: the one place this
// package names a source kind (TestSourceKindsMatchSpecs holds its keys equal to
// specs.SourceKinds). Adding a source is one package beside analysis/source and one line here.
var sourceBuilders = map[string]func(a *specs.Analysis, env sourceEnv) (source.Source, error){
	"prometheus": buildPrometheus,
	"datadog":    buildDatadog,
	"jaeger":     buildJaeger,
	"traces":     buildTraces,
}

func buildPrometheus(a *specs.Analysis, env sourceEnv) (source.Source, error) {
	p := a.Sources.Prometheus
	return prometheus.New(prometheus.Config{
		URL: p.URL, BearerToken: p.Token(), Username: p.Username, Password: p.PasswordSecret(),
		Headers: p.Headers, CAFile: p.CAPath(), Insecure: p.Insecure, Timeout: p.Timeout.D(),
		DialContext: env.nw.dial,
	})
}

func buildDatadog(a *specs.Analysis, env sourceEnv) (source.Source, error) {
	d := a.Sources.Datadog
	api, app := d.Keys()
	return datadog.New(datadog.Config{APIKey: api, AppKey: app, Site: d.Site, BaseURL: d.BaseURL, Timeout: d.Timeout.D(),
		HTTPClient: env.nw.client()}, env.lookupEnv, env.logger)
}

func buildJaeger(a *specs.Analysis, env sourceEnv) (source.Source, error) {
	j := a.Sources.Jaeger
	return jaeger.New(jaeger.Config{URL: j.URL, Service: j.Service, Attribute: j.Attribute, Values: j.Values,
		MaxTraces: j.MaxTraces, Timeout: j.Timeout.D(), HTTPClient: env.nw.client()})
}

// buildTraces takes the analysis's view of a trace receiver: the Engine's shared one, or one of
// its own that listen serves.
func buildTraces(a *specs.Analysis, env sourceEnv) (source.Source, error) {
	t, s := a.Sources.Traces, env.s
	cfg := traces.ViewConfig{Attribute: t.Attribute, Values: t.Values}
	rcv := env.shared.rcv
	if rcv == nil {
		own, err := traces.NewReceiver(traces.Config{Token: t.TokenSecret()}, env.logger)
		if err != nil {
			return nil, err
		}
		rcv, s.rcv = own, own
	} else {
		// The shared receiver accepts the analysis's token while its view is open.
		cfg.Token, s.addr = t.TokenSecret(), env.shared.addr
	}
	v, err := rcv.View(cfg)
	if err != nil {
		return nil, err
	}
	s.traces = v
	return v, nil
}

// listen starts the trace receiver's listener, when the analysis has a receiver of its own.
func (s *sources) listen(nw network) error {
	if t := s.a.Sources.Traces; t != nil && s.rcv != nil {
		rcv := s.rcv
		listen := nw.listen
		if listen == nil {
			listen = net.Listen
		}
		ln, err := listen("tcp", t.Listen)
		if err != nil {
			return fmt.Errorf("sources.traces: listen on %s: %w", t.Listen, err)
		}
		// The spec refuses such an address at load; this holds for one set later (Options.TracesListen,
		// an embedding program) and judges what was actually bound.
		if t.TokenSecret() == "" && !loopback(ln.Addr()) {
			_ = ln.Close()
			return fmt.Errorf("sources.traces: listening on %s (%s) lets other hosts post spans that decide the verdict: "+
				"set sources.traces.token, or listen on loopback (%s)", t.Listen, ln.Addr(), specs.DefaultTracesListen)
		}
		mux := http.NewServeMux()
		mux.Handle("/v1/traces", rcv)
		s.addr = ln.Addr().String()
		s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { _ = s.srv.Serve(ln) }()
	}
	return nil
}

// loopback reports whether a bound address is reachable from this host only.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func (s *sources) close() {
	if s == nil {
		return
	}
	if s.srv != nil {
		_ = s.srv.Close()
	}
	if s.traces != nil {
		s.traces.Close()
	}
}

func (s *sources) interval(kind string) time.Duration { return s.a.Sources.Interval(kind) }

// fetchBoth fetches q for both environments and keeps the source's warnings for the outcome.
func (c *check) fetchBoth(ctx context.Context, src source.Source, q source.Query, envs [2]source.Env, w source.Window) ([2]source.Result, error) {
	var out [2]source.Result
	c.warnings = c.warnings[:0]
	for i, env := range envs {
		res, err := src.Fetch(ctx, q, env, w)
		if err != nil {
			return out, err
		}
		for _, warn := range res.Warnings {
			c.warnings = append(c.warnings, env.Name+": "+warn)
		}
		out[i] = res
	}
	return out, nil
}

// bind gives a check that reads a source its compare check and its poll: each poll fetches
// both environments over the phase so far and replaces the check's data with what the source
// now says.
func (s *sources) bind(c *check, sc *specs.Check, cfg compare.Config) error {
	src, ok := s.clients[c.kind]
	if !ok {
		return fmt.Errorf("sources.%s is not declared", c.kind)
	}
	switch {
	case sc.ErrorRate != nil:
		return bindErrorRate(c, sc, cfg, src)
	case sc.Latency != nil:
		return bindLatency(c, sc, cfg, src)
	case sc.Values != nil:
		return bindValues(c, sc, cfg, src)
	case sc.TraceShape != nil:
		return bindTraceShape(c, sc, cfg, s.traces)
	}
	return fmt.Errorf("check kind %q cannot read %s", sc.Kind(), c.kind)
}

func bindErrorRate(c *check, sc *specs.Check, cfg compare.Config, src source.Source) error {
	e := sc.ErrorRate
	cfg.MinSamples = e.MinSamples
	er, err := compare.NewErrorRate(cfg, errorRateThreshold(e))
	if err != nil {
		return err
	}
	var q source.Query
	switch {
	case e.Prometheus != nil:
		errs, err := parseProm(sc, "errors", e.Prometheus.Errors)
		if err != nil {
			return err
		}
		total, err := parseProm(sc, "total", e.Prometheus.Total)
		if err != nil {
			return err
		}
		q = prometheus.CountsQuery{Errors: errs, Total: total}
	case e.Datadog != nil:
		dq, err := datadog.NewCountsQuery(e.Datadog.Errors, e.Datadog.Total)
		if err != nil {
			return fmt.Errorf("datadog: %w", err)
		}
		q = dq
	case e.Traces != nil:
		q = traces.OperationErrors{Operation: e.Traces.Operation, Service: e.Traces.Service}
	case e.Jaeger != nil:
		q = jaeger.OperationErrors{Operation: e.Jaeger.Operation}
	}
	c.eval = er
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
			n := got[i].Counts
			if err := er.SetCounts(side, int64(math.Round(n.Errors)), int64(math.Round(n.Total))); err != nil {
				return err
			}
		}
		c.setCandidateEvidence(got[1].Counts.Total, got[1].Counts.Total-got[1].Counts.Errors)
		return nil
	}
	return nil
}

// parseProm compiles one of a check's Prometheus query templates.
func parseProm(sc *specs.Check, key, text string) (*template.Template, error) {
	t, err := prometheus.Parse(sc.Name+"."+key, text)
	if err != nil {
		return nil, fmt.Errorf("prometheus.%s: %w", key, err)
	}
	return t, nil
}

func errorRateThreshold(e *specs.ErrorRateCheck) compare.Threshold {
	t := compare.Threshold{MaxRatio: e.MaxRatio}
	if e.MaxIncrease != nil {
		t.MaxIncrease = compare.F(e.MaxIncrease.F())
	}
	if e.Max != nil {
		t.Max = compare.F(e.Max.F())
	}
	return t
}

func latencyThreshold(l *specs.LatencyCheck) compare.Threshold {
	t := compare.Threshold{MaxRatio: l.MaxRatio, Direction: compare.Direction(l.Direction)}
	if l.MaxIncrease != nil {
		t.MaxIncrease = compare.F(l.MaxIncrease.D().Seconds())
	}
	if l.Max != nil {
		t.Max = compare.F(l.Max.D().Seconds())
	}
	return t
}

func bindLatency(c *check, sc *specs.Check, cfg compare.Config, src source.Source) error {
	l := sc.Latency
	cfg.MinSamples = l.MinSamples
	t := latencyThreshold(l)
	if l.Prometheus != nil {
		hl, err := compare.NewHistogramLatency(cfg, l.Percentile, t)
		if err != nil {
			return err
		}
		b, err := parseProm(sc, "buckets", l.Prometheus.Buckets)
		if err != nil {
			return err
		}
		q := prometheus.HistogramQuery{Buckets: b}
		c.eval = hl
		c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
			got, err := c.fetchBoth(ctx, src, q, envs, w)
			if err != nil {
				return err
			}
			for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
				if err := hl.SetBuckets(side, got[i].Histogram.LE, got[i].Histogram.Cumulative); err != nil {
					return err
				}
				if lo, hi, ok := hl.Resolution(side); ok && !hl.Resolvable(lo, hi) {
					c.warnings = append(c.warnings, bucketWarning(sc, envs[i].Name, lo, hi))
				}
			}
			var total float64
			if cum := got[1].Histogram.Cumulative; len(cum) > 0 {
				total = cum[len(cum)-1]
			}
			c.setCandidateEvidence(total, -1)
			return nil
		}
		return nil
	}
	// Span durations: the receiver holds the window's spans, so each poll rebuilds the check
	// from all of them.
	fresh := func() (*compare.Latency, error) { return compare.NewLatency(cfg, l.Percentile, t) }
	lc, err := fresh()
	if err != nil {
		return err
	}
	var q source.Query
	if l.Jaeger != nil {
		q = jaeger.OperationLatency{Operation: l.Jaeger.Operation}
	} else {
		q = traces.OperationLatency{Operation: l.Traces.Operation, Service: l.Traces.Service}
	}
	c.eval = lc
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		next, err := fresh()
		if err != nil {
			return err
		}
		for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
			for _, v := range got[i].Latencies {
				if err := next.Add(side, v); err != nil {
					return err
				}
			}
		}
		c.eval = next
		ok := -1.0
		if got[1].OK != nil {
			ok = *got[1].OK
		}
		c.setCandidateEvidence(float64(len(got[1].Latencies)), ok)
		return nil
	}
	return nil
}

// bucketWarning says that the buckets around a side's percentile are too coarse for the check's
// limits ever to be decided, and what would do.
func bucketWarning(sc *specs.Check, env string, lo, hi float64) string {
	l := sc.Latency
	allow := ""
	if lo > 0 {
		allow = fmt.Sprintf(": a ratio no finer than [%.2f, %.2f]", lo/hi, hi/lo)
	}
	return fmt.Sprintf("%s's p%g is in the bucket (%s, %s]%s, so %s can never be decided; query a native histogram or add buckets closer together around it",
		env, l.Percentile, seconds(lo), seconds(hi), allow, limitsOf(l))
}

func limitsOf(l *specs.LatencyCheck) string {
	var out []string
	if l.MaxRatio != nil {
		out = append(out, fmt.Sprintf("maxRatio %g", *l.MaxRatio))
	}
	if l.MaxIncrease != nil {
		out = append(out, "maxIncrease "+l.MaxIncrease.D().String())
	}
	return strings.Join(out, " and ")
}

func seconds(v float64) string { return time.Duration(v * float64(time.Second)).String() }

func bindValues(c *check, sc *specs.Check, cfg compare.Config, src source.Source) error {
	v := sc.Values
	cfg.MinSamples = v.MinSamples
	t, err := compare.ParseCriterion(v.Criterion)
	if err != nil {
		return err
	}
	fresh := func() (*compare.Values, error) { return compare.NewValues(cfg, t) }
	vc, err := fresh()
	if err != nil {
		return err
	}
	var q source.Query
	switch {
	case v.Prometheus != nil:
		qt, err := parseProm(sc, "query", v.Prometheus.Query)
		if err != nil {
			return err
		}
		q = prometheus.ValuesQuery{Query: qt, Step: v.Prometheus.Step.D()}
	case v.Datadog != nil && v.Datadog.Query != "":
		if q, err = datadog.NewMetricQuery(v.Datadog.Query); err != nil {
			return fmt.Errorf("datadog: %w", err)
		}
	case v.Datadog != nil:
		if q, err = datadog.NewFormulaQuery(v.Datadog.Queries, v.Datadog.Formula); err != nil {
			return fmt.Errorf("datadog: %w", err)
		}
	}
	c.eval = vc
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		// The series cover the whole window again: rebuild from the aligned intervals.
		next, err := fresh()
		if err != nil {
			return err
		}
		for i := 0; i < min(len(got[0].Values), len(got[1].Values)); i++ {
			if err := next.AddPair(got[0].Values[i], got[1].Values[i]); err != nil {
				return err
			}
		}
		c.eval = next
		c.setCandidateEvidence(float64(len(got[1].Values)), -1)
		return nil
	}
	return nil
}
