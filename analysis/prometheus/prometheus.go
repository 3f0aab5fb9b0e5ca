// Package prometheus reads check data from a Prometheus server through its HTTP API: counts for
// error-rate checks, `le` bucket counts for latency checks, and series for value checks. Queries
// are Go templates rendered per environment; every ambiguity — an empty vector, NaN, two series
// where one was meant, an HTTP error — is a *source.Error, never a number that could pass.
package prometheus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Config is how to reach the server.
type Config struct {
	URL         string
	BearerToken specs.Secret
	Username    string
	Password    specs.Secret
	Headers     map[string]string
	CAFile      string
	Insecure    bool
	Timeout     time.Duration // per query (default 10s)
	// HTTPClient, when set, sends the queries through its transport (the process's shared
	// one); with CAFile or Insecure that transport must be an *http.Transport, cloned with the
	// TLS settings. Unset, the source has a transport of its own.
	HTTPClient *http.Client
	// DialContext, when set and HTTPClient is not, opens the connections instead of a
	// net.Dialer (tests run the server on an in-memory network).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Source queries one Prometheus server.
type Source struct {
	api     v1.API
	timeout time.Duration
	url     string // for errors, without credentials
}

// New returns a source for cfg.
func New(cfg Config) (*Source, error) {
	if cfg.URL == "" {
		return nil, errors.New("prometheus: url is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // explicit opt-in
	if cfg.CAFile != "" {
		pool, err := specs.CertPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("prometheus: caFile: %w", err)
		}
		tlsConf.RootCAs = pool
	}
	rt, err := transport(cfg, tlsConf)
	if err != nil {
		return nil, err
	}
	rt = &authTransport{next: rt, cfg: cfg}
	c, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return &Source{api: v1.NewAPI(c), timeout: cfg.Timeout, url: source.PublicURL(cfg.URL)}, nil
}

// transport is what the queries go through: the given client's transport (with the TLS
// settings, when the config has any, on a clone of it), or one of the source's own.
func transport(cfg Config, tlsConf *tls.Config) (http.RoundTripper, error) {
	custom := cfg.CAFile != "" || cfg.Insecure
	if hc := cfg.HTTPClient; hc != nil {
		rt := hc.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		if !custom {
			return rt, nil
		}
		t, ok := rt.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("prometheus: caFile and insecure need an *http.Transport to set them on, the client has a %T", rt)
		}
		t = t.Clone()
		t.TLSClientConfig = tlsConf
		return t, nil
	}
	dial := cfg.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dial,
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

// authTransport adds credentials and headers; they never reach an error or a log.
type authTransport struct {
	next http.RoundTripper
	cfg  Config
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.cfg.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case t.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+t.cfg.BearerToken.Reveal())
	case t.cfg.Username != "":
		req.SetBasicAuth(t.cfg.Username, t.cfg.Password.Reveal())
	}
	return t.next.RoundTrip(req)
}

// CountsQuery reads an error count and a total, each an instant query that must return one
// sample: prefer `sum(increase(...[{{ .window }}]))` over a precomputed ratio.
type CountsQuery struct {
	Errors, Total *template.Template
}

// HistogramQuery reads cumulative bucket counts: one sample per `le` label, e.g.
// `sum by (le) (increase(http_request_duration_seconds_bucket{...}[{{ .window }}]))`, or one
// native histogram, e.g. `sum(increase(http_request_duration_seconds{...}[{{ .window }}]))`.
type HistogramQuery struct {
	Buckets *template.Template
}

// ValuesQuery reads one series over the window at Step resolution (a range query).
type ValuesQuery struct {
	Query *template.Template
	Step  time.Duration
}

func (CountsQuery) Shape() source.Shape    { return source.ShapeCounts }
func (HistogramQuery) Shape() source.Shape { return source.ShapeHistogram }
func (ValuesQuery) Shape() source.Shape    { return source.ShapeValues }

// Parse compiles a query template; the data it sees is {{ .env.name }}, {{ .env.role }},
// {{ .env.labels.KEY }}, {{ .window }} (the window as a PromQL duration, e.g. 317s) and
// {{ .step }}.
func Parse(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// Fetch runs q for env over w.
func (s *Source) Fetch(ctx context.Context, q source.Query, env source.Env, w source.Window) (source.Result, error) {
	fail := func(reason string, retryable bool, err error) (source.Result, error) {
		return source.Result{}, &source.Error{Source: "prometheus", URL: s.url, Env: env.Name, Reason: reason, Retryable: retryable, Err: err}
	}
	switch q := q.(type) {
	case CountsQuery:
		var res source.Result
		errs, warn, err := s.scalar(ctx, q.Errors, env, w)
		if err != nil {
			reason := reasonOf(err)
			if unmatched(err) {
				reason += "; if the errors may not have happened yet, write the errors query `… or 0 * <the total query>`: zero only while the total's series exist (`or vector(0)` would hide a typo)"
			}
			return fail("errors query: "+reason, retryable(err), err)
		}
		total, warn2, err := s.scalar(ctx, q.Total, env, w)
		if err != nil {
			return fail("total query: "+reasonOf(err), retryable(err), err)
		}
		if errs > total || errs < 0 {
			return fail(fmt.Sprintf("errors (%g) not between 0 and total (%g): do both queries count the same requests?", errs, total), false, nil)
		}
		res.Counts = &source.Counts{Errors: errs, Total: total}
		res.Warnings = append(warn, warn2...)
		return res, nil
	case HistogramQuery:
		h, warn, err := s.histogram(ctx, q, env, w)
		if err != nil {
			return fail(reasonOf(err), retryable(err), err)
		}
		return source.Result{Histogram: h, Warnings: warn}, nil
	case ValuesQuery:
		vals, warn, err := s.values(ctx, q, env, w)
		if err != nil {
			return fail(reasonOf(err), retryable(err), err)
		}
		return source.Result{Values: vals, Warnings: warn}, nil
	}
	return fail(fmt.Sprintf("unsupported query %T", q), false, nil)
}

type fetchError struct {
	reason    string
	retryable bool
	err       error
	unmatched bool // an empty result because a selector matches no series
}

func (e *fetchError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

func (e *fetchError) Unwrap() error { return e.err }

func reasonOf(err error) string {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.reason
	}
	return err.Error()
}

func retryable(err error) bool {
	var fe *fetchError
	return errors.As(err, &fe) && fe.retryable
}

func render(t *template.Template, env source.Env, w source.Window, step time.Duration) (string, error) {
	secs := int64(math.Ceil(w.Duration().Seconds()))
	if secs < 1 {
		secs = 1
	}
	data := map[string]any{
		"env":    map[string]any{"name": env.Name, "role": env.Role, "labels": env.Labels},
		"window": fmt.Sprintf("%ds", secs),
		"step":   fmt.Sprintf("%ds", max(int64(step.Seconds()), 1)),
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", &fetchError{reason: "render query", err: err}
	}
	return b.String(), nil
}

// query runs an instant query at the window's end, bounded by the source's timeout.
// query runs an instant query at the window's end, bounded by the source's timeout; an empty
// result is explained (see empty).
func (s *Source) query(ctx context.Context, t *template.Template, env source.Env, w source.Window) (model.Vector, []string, error) {
	q, err := render(t, env, w, 0)
	if err != nil {
		return nil, nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	val, warnings, _, err := s.api.Query(qctx, q, w.End, v1.WithTimeout(s.timeout))
	if err != nil {
		return nil, warnings, classify(qctx, err, s.timeout)
	}
	switch v := val.(type) {
	case model.Vector:
		if len(v) == 0 {
			return nil, warnings, s.empty(ctx, q, w)
		}
		return v, warnings, nil
	case *model.Scalar:
		return model.Vector{&model.Sample{Value: v.Value, Timestamp: v.Timestamp}}, warnings, nil
	}
	return nil, warnings, &fetchError{reason: fmt.Sprintf("query returned a %s, want an instant vector", val.Type())}
}

func (s *Source) scalar(ctx context.Context, t *template.Template, env source.Env, w source.Window) (float64, []string, error) {
	vec, warnings, err := s.query(ctx, t, env, w)
	if err != nil {
		return 0, warnings, err
	}
	switch len(vec) {
	case 1:
	default:
		return 0, warnings, &fetchError{reason: fmt.Sprintf("%d series, want one: aggregate with sum(...) (got %s)", len(vec), seriesNames(vec))}
	}
	v := float64(vec[0].Value)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, warnings, &fetchError{reason: fmt.Sprintf("value is %v (no traffic in the window?)", v), err: source.ErrNoData}
	}
	return v, warnings, nil
}

func (s *Source) histogram(ctx context.Context, q HistogramQuery, env source.Env, w source.Window) (*source.Histogram, []string, error) {
	vec, warnings, err := s.query(ctx, q.Buckets, env, w)
	if err != nil {
		return nil, warnings, err
	}
	if len(vec) == 1 && vec[0].Histogram != nil {
		h, err := nativeHistogram(vec[0].Histogram)
		return h, warnings, err
	}
	h := &source.Histogram{}
	type bucket struct{ le, v float64 }
	var bs []bucket
	seen := map[float64]bool{}
	for _, smp := range vec {
		if smp.Histogram != nil {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("%d series of native histograms, want one: aggregate with sum(...)", len(vec))}
		}
		leText, ok := smp.Metric["le"]
		if !ok {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("series %s has no le label: aggregate with sum by (le) (...)", smp.Metric)}
		}
		le, err := strconv.ParseFloat(string(leText), 64)
		if err != nil {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("bad le label %q", leText)}
		}
		if seen[le] {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("two series for le=%s: aggregate with sum by (le) (...)", leText)}
		}
		seen[le] = true
		v := float64(smp.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("bucket le=%s is %v", leText, v), err: source.ErrNoData}
		}
		bs = append(bs, bucket{le, v})
	}
	if !seen[math.Inf(1)] {
		return nil, warnings, &fetchError{reason: "no le=\"+Inf\" bucket: the total is unknown"}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		h.LE = append(h.LE, b.le)
		h.Cumulative = append(h.Cumulative, b.v)
	}
	return h, warnings, nil
}

// nativeHistogram turns a native histogram's buckets into cumulative counts by upper bound: a
// bucket's observations are counted at its upper bound, and the lower edge of the bucket that
// holds a rank is taken as the bound below it, which is never above the bucket's own lower
// bound (empty buckets are not returned). Their exponential buckets, a few percent wide, let a
// percentile be bounded that finely. Bounds at or below zero (the zero bucket) count at 0.
func nativeHistogram(nh *model.SampleHistogram) (*source.Histogram, error) {
	total := float64(nh.Count)
	if math.IsNaN(total) || math.IsInf(total, 0) || total < 0 {
		return nil, &fetchError{reason: fmt.Sprintf("native histogram count is %v", total), err: source.ErrNoData}
	}
	type bucket struct{ le, v float64 }
	var bs []bucket
	for _, b := range nh.Buckets {
		le, v := math.Max(float64(b.Upper), 0), float64(b.Count)
		if math.IsNaN(le) || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, &fetchError{reason: fmt.Sprintf("native histogram bucket (%v, %v] has count %v", b.Lower, b.Upper, b.Count)}
		}
		bs = append(bs, bucket{le, v})
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	h := &source.Histogram{}
	cum := 0.0
	for _, b := range bs {
		cum += b.v
		if n := len(h.LE); n > 0 && h.LE[n-1] == b.le {
			h.Cumulative[n-1] = cum
			continue
		}
		if math.IsInf(b.le, 1) {
			break
		}
		h.LE = append(h.LE, b.le)
		h.Cumulative = append(h.Cumulative, cum)
	}
	h.LE = append(h.LE, math.Inf(1))
	h.Cumulative = append(h.Cumulative, math.Max(total, cum))
	return h, nil
}

func (s *Source) values(ctx context.Context, q ValuesQuery, env source.Env, w source.Window) ([]float64, []string, error) {
	step := q.Step
	if step <= 0 {
		step = 30 * time.Second
	}
	text, err := render(q.Query, env, w, step)
	if err != nil {
		return nil, nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	val, warnings, _, err := s.api.QueryRange(qctx, text, v1.Range{Start: w.Start, End: w.End, Step: step}, v1.WithTimeout(s.timeout))
	if err != nil {
		return nil, warnings, classify(qctx, err, s.timeout)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, warnings, &fetchError{reason: fmt.Sprintf("range query returned a %s, want a matrix", val.Type())}
	}
	switch len(m) {
	case 0:
		return nil, warnings, s.empty(ctx, text, w)
	case 1:
	default:
		names := make([]string, len(m))
		for i, ss := range m {
			names[i] = ss.Metric.String()
		}
		return nil, warnings, &fetchError{reason: fmt.Sprintf("%d series, want one: aggregate (got %s)", len(m), strings.Join(names, ", "))}
	}
	var out []float64
	for _, p := range m[0].Values {
		v := float64(p.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, warnings, &fetchError{reason: fmt.Sprintf("value at %s is %v", p.Timestamp.Time().UTC().Format(time.RFC3339), v), err: source.ErrNoData}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, warnings, &fetchError{reason: "no points in the window", err: source.ErrNoData}
	}
	return out, warnings, nil
}

// classify turns a client error into a reason: timeouts and server errors are retryable, bad
// queries are not.
func classify(ctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &fetchError{reason: fmt.Sprintf("timeout after %s", timeout), retryable: true, err: err}
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case v1.ErrBadData, v1.ErrExec:
			return &fetchError{reason: fmt.Sprintf("query rejected (%s): %s", apiErr.Type, apiErr.Msg), err: err}
		case v1.ErrTimeout, v1.ErrServer, v1.ErrCanceled:
			return &fetchError{reason: apiErr.Msg, retryable: true, err: err}
		}
		return &fetchError{reason: fmt.Sprintf("%s: %s", apiErr.Type, apiErr.Msg), retryable: true, err: err}
	}
	return &fetchError{reason: "cannot reach Prometheus", retryable: true, err: err}
}

func seriesNames(vec model.Vector) string {
	names := make([]string, 0, len(vec))
	for _, s := range vec {
		names = append(names, s.Metric.String())
	}
	return strings.Join(names, ", ")
}
