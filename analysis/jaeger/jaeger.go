package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

// SourceName is the name of this source in errors and specs.
const SourceName = "jaeger"

// Defaults applied by New to zero Config fields.
const (
	DefaultAttribute    = "service.version"
	DefaultTimeout      = 10 * time.Second
	DefaultMaxTraces    = 1000
	DefaultMaxBodyBytes = 64 << 20
)

var (
	// ErrConfig marks an invalid Config.
	ErrConfig = errors.New("invalid jaeger config")
	// ErrUnknownEnvironment marks a query for an environment no configured attribute value
	// maps to: a configuration mistake, so no later tick will bring data.
	ErrUnknownEnvironment = errors.New("unknown environment")
)

// Config is how to reach Jaeger and how to tell environments apart.
type Config struct {
	// URL is the base URL of the query service's HTTP port, e.g. http://jaeger:16686.
	URL string
	// Service is the service.name whose traces are searched, e.g. "checkout".
	Service string
	// Attribute is the resource attribute whose value says which environment a span belongs
	// to (default "service.version"; "deployment.environment.name" is the other common one).
	Attribute string
	// Values maps an attribute value to an environment name, e.g. {"v1": "blue", "v2": "green"}.
	// Several values may name the same environment.
	Values map[string]string
	// Timeout bounds one query (default 10s).
	Timeout time.Duration
	// HTTPClient sends the queries (default a client of its own; never http.DefaultClient).
	HTTPClient *http.Client
	// MaxTraces is query.num_traces, the most traces one query returns (default 1000). It must
	// not exceed the storage's own limit (max_traces of the memory backend). An answer that
	// reaches it carries a warning: older traces of the window were left out.
	MaxTraces int
	// MaxBodyBytes caps the response body read (default 64 MiB); larger is an error.
	MaxBodyBytes int64
}

// Source queries one Jaeger query service.
type Source struct {
	cfg      Config
	endpoint *url.URL
	client   *http.Client
	byEnv    map[string][]string // environment → attribute values
	known    []string            // environment names, sorted, for messages
}

var _ source.Source = (*Source)(nil)

// New validates cfg, fills its defaults and returns a source.
func New(cfg Config) (*Source, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: url is required", ErrConfig)
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q must be an absolute http(s) URL", ErrConfig, cfg.URL)
	}
	u = u.JoinPath("api", "v3", "traces")
	if strings.TrimSpace(cfg.Service) == "" {
		return nil, fmt.Errorf("%w: service is required", ErrConfig)
	}
	if cfg.Attribute == "" {
		cfg.Attribute = DefaultAttribute
	}
	if len(cfg.Values) == 0 {
		return nil, fmt.Errorf("%w: values must map at least one %s value to an environment", ErrConfig, cfg.Attribute)
	}
	s := &Source{cfg: cfg, endpoint: u, byEnv: map[string][]string{}}
	for v, env := range cfg.Values {
		if strings.TrimSpace(env) == "" {
			return nil, fmt.Errorf("%w: value %q maps to an empty environment name", ErrConfig, v)
		}
		if _, ok := s.byEnv[env]; !ok {
			s.known = append(s.known, env)
		}
		s.byEnv[env] = append(s.byEnv[env], v)
	}
	slices.Sort(s.known)
	switch {
	case cfg.Timeout == 0:
		s.cfg.Timeout = DefaultTimeout
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: timeout must be positive, got %s", ErrConfig, cfg.Timeout)
	}
	switch {
	case cfg.MaxTraces == 0:
		s.cfg.MaxTraces = DefaultMaxTraces
	case cfg.MaxTraces < 0:
		return nil, fmt.Errorf("%w: maxTraces must be positive, got %d", ErrConfig, cfg.MaxTraces)
	}
	switch {
	case cfg.MaxBodyBytes == 0:
		s.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("%w: maxBodyBytes must be positive, got %d", ErrConfig, cfg.MaxBodyBytes)
	}
	s.client = cfg.HTTPClient
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return s, nil
}

// Fetch answers an OperationLatency or OperationErrors query (value or pointer) for env.Name
// over the window: spans of the service whose start is in [w.Start, w.End); a zero Start is the
// epoch, a zero End is now. No matching span is a *source.Error wrapping source.ErrNoData
// (retryable: a later tick may bring some).
func (s *Source) Fetch(ctx context.Context, q source.Query, env source.Env, w source.Window) (source.Result, error) {
	if err := ctx.Err(); err != nil {
		return source.Result{}, s.fail(env, "cancelled", true, err)
	}
	op, latency, err := operationOf(q)
	if err != nil {
		return source.Result{}, s.fail(env, err.Error(), false, nil)
	}
	values, ok := s.byEnv[env.Name]
	if !ok {
		return source.Result{}, s.fail(env, fmt.Sprintf("no %s value maps to environment %q (known: %s)",
			s.cfg.Attribute, env.Name, strings.Join(s.known, ", ")), false, ErrUnknownEnvironment)
	}
	if w.End.IsZero() {
		w.End = time.Now()
	}
	if w.Start.IsZero() {
		w.Start = time.Unix(0, 0)
	}
	what := fmt.Sprintf("spans of service %q", s.cfg.Service)
	if op != "" {
		what = fmt.Sprintf("spans of operation %q of service %q", op, s.cfg.Service)
	}
	noData := func() error {
		return s.fail(env, fmt.Sprintf("no %s with %s in (%s) in the window %s",
			what, s.cfg.Attribute, strings.Join(values, ", "), windowText(w)), true, source.ErrNoData)
	}

	td, found, err := s.query(ctx, env, w)
	if err != nil {
		return source.Result{}, err
	}
	if !found {
		return source.Result{}, noData()
	}
	m := matcher{service: s.cfg.Service, attribute: s.cfg.Attribute, values: values, operation: op,
		from: w.Start.UnixNano(), to: w.End.UnixNano()}
	var res source.Result
	traces := 0
	if latency {
		var ok float64
		res.Latencies, ok, traces = m.latencies(td)
		if len(res.Latencies) == 0 {
			return source.Result{}, noData()
		}
		res.OK = &ok
	} else {
		var c source.Counts
		c, traces = m.counts(td)
		if c.Total == 0 {
			return source.Result{}, noData()
		}
		res.Counts = &c
	}
	if traces >= s.cfg.MaxTraces {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%s: jaeger returned its limit of %d traces, older traces of the window were left out: the data covers part of it",
			env.Name, s.cfg.MaxTraces))
	}
	return res, nil
}

// operationOf resolves a query to its operation and whether it asks for latencies.
func operationOf(q source.Query) (op string, latency bool, err error) {
	switch q := q.(type) {
	case OperationLatency:
		return q.Operation, true, nil
	case *OperationLatency:
		if q != nil {
			return q.Operation, true, nil
		}
	case OperationErrors:
		return q.Operation, false, nil
	case *OperationErrors:
		if q != nil {
			return q.Operation, false, nil
		}
	}
	return "", false, fmt.Errorf("unsupported query %T", q)
}

// query finds the service's traces in the window; found is false when Jaeger has none.
func (s *Source) query(ctx context.Context, env source.Env, w source.Window) (td ptrace.Traces, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	u := *s.endpoint
	u.RawQuery = url.Values{
		"query.service_name":   {s.cfg.Service},
		"query.start_time_min": {w.Start.UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {w.End.UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {strconv.Itoa(s.cfg.MaxTraces)},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return td, false, s.fail(env, "build request: "+err.Error(), false, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return td, false, s.fail(env, fmt.Sprintf("timeout after %s", s.cfg.Timeout), true, err)
		}
		if errors.Is(err, context.Canceled) {
			return td, false, s.fail(env, "cancelled", true, err)
		}
		return td, false, s.fail(env, "query traces: "+err.Error(), true, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return td, false, s.fail(env, fmt.Sprintf("timeout after %s reading the answer", s.cfg.Timeout), true, err)
		}
		return td, false, s.fail(env, "read answer: "+err.Error(), true, err)
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return td, false, s.fail(env, fmt.Sprintf("answer larger than %d bytes: lower maxTraces or the window", s.cfg.MaxBodyBytes), false, nil)
	}
	if resp.StatusCode != http.StatusOK {
		return s.statusError(env, resp.StatusCode, body)
	}
	return s.decode(env, body)
}

// gatewayError is the body of an api_v3 error answer.
type gatewayError struct {
	Error *struct {
		HTTPCode int    `json:"httpCode"`
		Message  string `json:"message"`
	} `json:"error"`
}

// statusError turns a non-200 answer into an error; the gateway's 404 "No traces found" is the
// empty answer, not a failure.
func (s *Source) statusError(env source.Env, code int, body []byte) (ptrace.Traces, bool, error) {
	var ge gatewayError
	msg := ""
	if json.Unmarshal(body, &ge) == nil && ge.Error != nil {
		msg = ge.Error.Message
		if code == http.StatusNotFound {
			return ptrace.Traces{}, false, nil
		}
	} else {
		msg = strings.TrimSpace(string(body))
	}
	reason := fmt.Sprintf("HTTP %d", code)
	if msg != "" {
		reason += ": " + quotable(msg)
	}
	retryable := code == http.StatusTooManyRequests || code >= 500
	return ptrace.Traces{}, false, s.fail(env, reason, retryable, fmt.Errorf("jaeger query: HTTP %d", code))
}

// decode reads the gateway's answer: one or more {"result": <OTLP JSON>} objects (one today;
// the gateway may stream several in a later release).
func (s *Source) decode(env source.Env, body []byte) (ptrace.Traces, bool, error) {
	all := ptrace.NewTraces()
	dec := json.NewDecoder(bytes.NewReader(body))
	var u ptrace.JSONUnmarshaler
	for {
		var msg struct {
			Result json.RawMessage `json:"result"`
			gatewayError
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return all, false, s.fail(env, "malformed answer: "+err.Error(), false, err)
		}
		if msg.gatewayError.Error != nil {
			return all, false, s.fail(env, "jaeger error: "+quotable(msg.gatewayError.Error.Message), true, nil)
		}
		if len(msg.Result) == 0 || string(msg.Result) == "null" {
			continue
		}
		td, err := u.UnmarshalTraces(msg.Result)
		if err != nil {
			return all, false, s.fail(env, "malformed OTLP JSON in the answer: "+err.Error(), false, err)
		}
		td.ResourceSpans().MoveAndAppendTo(all.ResourceSpans())
	}
	return all, all.ResourceSpans().Len() > 0, nil
}

func windowText(w source.Window) string {
	return "[" + w.Start.UTC().Format(time.RFC3339Nano) + ", " + w.End.UTC().Format(time.RFC3339Nano) + ")"
}

const maxQuoted = 200

// quotable shortens a server's message before it goes into a reason.
func quotable(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func (s *Source) fail(env source.Env, reason string, retryable bool, err error) error {
	return &source.Error{Source: SourceName, URL: source.PublicURL(s.endpoint.String()), Env: env.Name, Reason: reason, Retryable: retryable, Err: err}
}
