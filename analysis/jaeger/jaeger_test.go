package jaeger

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

var (
	t0     = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	window = source.Window{Start: t0, End: t0.Add(time.Minute)}
	blue   = source.Env{Name: "blue", Role: "baseline"}
	green  = source.Env{Name: "green", Role: "candidate"}
	values = map[string]string{"v1": "blue", "v2": "green"}
)

// spanSpec is one span of a fixture.
type spanSpec struct {
	name   string
	at     time.Duration // start, after t0
	dur    time.Duration
	status ptrace.StatusCode
	attrs  map[string]any
}

// resourceSpec is one resource of a fixture.
type resourceSpec struct {
	attrs map[string]any
	spans []spanSpec
}

// answer renders resources as the api_v3 gateway does: {"result": <OTLP JSON>}.
func answer(t *testing.T, resources ...resourceSpec) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	n := byte(0)
	for _, r := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		require.NoError(t, rs.Resource().Attributes().FromRaw(r.attrs))
		ss := rs.ScopeSpans().AppendEmpty()
		for _, s := range r.spans {
			n++
			sp := ss.Spans().AppendEmpty()
			sp.SetName(s.name)
			sp.SetTraceID(pcommon.TraceID{1, n})
			sp.SetSpanID(pcommon.SpanID{2, n})
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.at)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.at + s.dur)))
			sp.Status().SetCode(s.status)
			require.NoError(t, sp.Attributes().FromRaw(s.attrs))
		}
	}
	b, err := new(ptrace.JSONMarshaler).MarshalTraces(td)
	require.NoError(t, err)
	return append(append([]byte(`{"result":`), b...), '}')
}

func checkout(version any, spans ...spanSpec) resourceSpec {
	return resourceSpec{attrs: map[string]any{"service.name": "checkout", "service.version": version}, spans: spans}
}

func httpSpan(method, route string, at, dur time.Duration, code int) spanSpec {
	return spanSpec{name: method + " " + route, at: at, dur: dur,
		attrs: map[string]any{"http.request.method": method, "http.route": route, "http.response.status_code": code}}
}

// fixture holds both environments, other services, other versions and spans outside the window.
func fixture(t *testing.T) []byte {
	return answer(t,
		checkout("v1",
			httpSpan("GET", "/health", time.Second, 2*time.Millisecond, 200),
			httpSpan("GET", "/health", 2*time.Second, 4*time.Millisecond, 200),
			httpSpan("GET", "/health", -time.Second, time.Second, 200), // before the window
			httpSpan("GET", "/health", time.Minute, time.Second, 200),  // at its end: excluded
			httpSpan("POST", "/api/orders", 3*time.Second, 9*time.Millisecond, 201),
			spanSpec{name: "store.get", at: 3 * time.Second, dur: time.Millisecond},
		),
		checkout("v2",
			httpSpan("GET", "/health", time.Second, 30*time.Millisecond, 200),
			spanSpec{name: "GET /health", at: time.Second, dur: 31 * time.Millisecond, status: ptrace.StatusCodeError,
				attrs: map[string]any{"http.request.method": "GET", "http.route": "/health"}},
			httpSpan("GET", "/health", time.Second, 32*time.Millisecond, 503),
			// Older conventions, a string code and a span named otherwise: still "GET /health".
			spanSpec{name: "health handler", at: time.Second, dur: 33 * time.Millisecond,
				attrs: map[string]any{"http.method": "GET", "http.route": "/health", "http.status_code": " 500 "}},
			httpSpan("GET", "/health", time.Second, 34*time.Millisecond, 404),
			httpSpan("GET", "/health", time.Second, 35*time.Millisecond, 499),
		),
		// Same trace, another service: not the checkout's operation.
		resourceSpec{attrs: map[string]any{"service.name": "payments", "service.version": "v1"},
			spans: []spanSpec{httpSpan("GET", "/health", time.Second, time.Second, 500)}},
		checkout("v3", httpSpan("GET", "/health", time.Second, time.Second, 500)), // no environment
		resourceSpec{attrs: map[string]any{"service.name": "checkout"}, // no version
			spans: []spanSpec{httpSpan("GET", "/health", time.Second, time.Second, 500)}},
	)
}

// fakeJaeger serves body with code on /api/v3/traces and records the queries it got.
type fakeJaeger struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
}

func serve(t *testing.T, code int, body []byte) *fakeJaeger {
	t.Helper()
	f := &fakeJaeger{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.Query())
		f.mu.Unlock()
		if r.URL.Path != "/api/v3/traces" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

func newSource(t *testing.T, url string, mod ...func(*Config)) *Source {
	t.Helper()
	cfg := Config{URL: url, Service: "checkout", Values: values}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	return s
}

func TestFetch(t *testing.T) {
	srv := serve(t, http.StatusOK, fixture(t))
	s := newSource(t, srv.URL)
	ms := func(d ...float64) []float64 {
		for i := range d {
			d[i] /= 1e3
		}
		return d
	}
	tests := []struct {
		name      string
		q         source.Query
		env       source.Env
		latencies []float64
		counts    *source.Counts
	}{
		{"blue latency of an operation", OperationLatency{Operation: "GET /health"}, blue, ms(2, 4), nil},
		{"green latency, whatever the span name", OperationLatency{Operation: "GET /health"}, green, ms(30, 31, 32, 33, 34, 35), nil},
		{"pointer query", &OperationLatency{Operation: "POST /api/orders"}, blue, ms(9), nil},
		{"span without a route is named by its name", OperationLatency{Operation: "store.get"}, blue, ms(1), nil},
		{"every operation", OperationLatency{}, blue, ms(2, 4, 9, 1), nil},
		{"blue errors", OperationErrors{Operation: "GET /health"}, blue, nil, &source.Counts{Errors: 0, Total: 2}},
		// status ERROR, 503 and " 500 " are errors; 404 and 499 are not.
		{"green errors", &OperationErrors{Operation: "GET /health"}, green, nil, &source.Counts{Errors: 3, Total: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Fetch(t.Context(), tt.q, tt.env, window)
			require.NoError(t, err)
			if tt.latencies != nil {
				assert.InDeltaSlice(t, tt.latencies, res.Latencies, 1e-9)
				assert.Nil(t, res.Counts)
			} else {
				assert.Equal(t, tt.counts, res.Counts)
				assert.Nil(t, res.Latencies)
			}
			assert.Empty(t, res.Warnings)
		})
	}
}

func TestFetchSendsTheWindow(t *testing.T) {
	srv := serve(t, http.StatusOK, fixture(t))
	s := newSource(t, srv.URL+"/", func(c *Config) { c.MaxTraces = 500 })
	w := source.Window{Start: t0.Add(123456789 * time.Nanosecond), End: t0.Add(time.Hour).In(time.FixedZone("X", 3600))}
	_, err := s.Fetch(t.Context(), OperationErrors{}, blue, w)
	require.NoError(t, err)
	require.Len(t, srv.queries, 1)
	assert.Equal(t, url.Values{
		"query.service_name":   {"checkout"},
		"query.start_time_min": {"2025-06-01T12:00:00.123456789Z"},
		"query.start_time_max": {"2025-06-01T13:00:00Z"},
		"query.num_traces":     {"500"},
	}, srv.queries[0])
}

func TestFetchAttribute(t *testing.T) {
	body := answer(t, resourceSpec{
		attrs: map[string]any{"service.name": "checkout", "deployment.environment.name": "green", "service.version": "v1"},
		spans: []spanSpec{httpSpan("GET", "/health", time.Second, 7*time.Millisecond, 200)},
	}, resourceSpec{
		attrs: map[string]any{"service.name": "checkout", "deployment.environment.name": 2},
		spans: []spanSpec{httpSpan("GET", "/health", time.Second, 8*time.Millisecond, 200)},
	})
	srv := serve(t, http.StatusOK, body)
	s := newSource(t, srv.URL, func(c *Config) {
		c.Attribute = "deployment.environment.name"
		c.Values = map[string]string{"green": "green", "2": "green", "blue": "blue"}
	})
	res, err := s.Fetch(t.Context(), OperationLatency{Operation: "GET /health"}, green, window)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{0.007, 0.008}, res.Latencies, 1e-9)
	_, err = s.Fetch(t.Context(), OperationLatency{Operation: "GET /health"}, blue, window)
	assert.ErrorIs(t, err, source.ErrNoData)
}

func TestFetchWarnsWhenTheLimitIsReached(t *testing.T) {
	srv := serve(t, http.StatusOK, fixture(t))
	s := newSource(t, srv.URL, func(c *Config) { c.MaxTraces = 3 })
	res, err := s.Fetch(t.Context(), OperationErrors{Operation: "GET /health"}, blue, window)
	require.NoError(t, err)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "limit of 3 traces")
}

func TestFetchFailSafe(t *testing.T) {
	notFound := []byte(`{"error":{"httpCode":404,"message":"No traces found"}}` + "\n")
	tests := []struct {
		name      string
		code      int
		body      []byte
		q         source.Query
		env       source.Env
		noData    bool
		retryable bool
		reason    string
		is        error
	}{
		{name: "no traces found", code: 404, body: notFound, noData: true, retryable: true,
			reason: `no spans of operation "GET /health" of service "checkout" with service.version in (v1)`},
		{name: "empty result", code: 200, body: []byte(`{"result":{"resourceSpans":[]}}`), noData: true, retryable: true},
		{name: "null result", code: 200, body: []byte(`{"result":null}`), noData: true, retryable: true},
		{name: "empty body", code: 200, body: nil, noData: true, retryable: true},
		{name: "no matching span", code: 200, body: answer(t, checkout("v2", httpSpan("GET", "/health", time.Second, time.Millisecond, 200))),
			noData: true, retryable: true},
		{name: "unknown operation", code: 200, body: fixture(t), q: OperationLatency{Operation: "GET /nope"}, noData: true, retryable: true},
		{name: "server error", code: 500, body: []byte(`{"error":{"httpCode":500,"message":"storage down"}}`), retryable: true,
			reason: "HTTP 500: storage down"},
		{name: "unavailable", code: 503, body: []byte("upstream connect error"), retryable: true, reason: "HTTP 503: upstream connect error"},
		{name: "rate limited", code: 429, body: nil, retryable: true, reason: "HTTP 429"},
		{name: "bad request", code: 400, body: []byte(`{"error":{"httpCode":400,"message":"malformed parameter query.start_time_min"}}`),
			reason: "HTTP 400: malformed parameter query.start_time_min"},
		{name: "404 from something else than the gateway", code: 404, body: []byte("404 page not found"), reason: "HTTP 404: 404 page not found"},
		{name: "not JSON", code: 200, body: []byte("<html>login</html>"), reason: "malformed answer"},
		{name: "not OTLP", code: 200, body: []byte(`{"result":{"resourceSpans":"x"}}`), reason: "malformed OTLP JSON"},
		{name: "unknown environment", code: 200, body: fixture(t), env: source.Env{Name: "purple"},
			reason: `no service.version value maps to environment "purple" (known: blue, green)`, is: ErrUnknownEnvironment},
		{name: "unsupported query", code: 200, body: fixture(t), q: otherQuery{}, reason: "unsupported query jaeger.otherQuery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.code, tt.body)
			s := newSource(t, srv.URL)
			q, env := tt.q, tt.env
			if q == nil {
				q = OperationErrors{Operation: "GET /health"}
			}
			if env.Name == "" {
				env = blue
			}
			res, err := s.Fetch(t.Context(), q, env, window)
			require.Error(t, err)
			assert.Equal(t, source.Result{}, res)
			var se *source.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, SourceName, se.Source)
			assert.Equal(t, env.Name, se.Env)
			assert.Equal(t, tt.noData, errors.Is(err, source.ErrNoData), "%v", err)
			assert.Equal(t, tt.retryable, se.Retryable, "%v", err)
			if tt.reason != "" {
				assert.Contains(t, se.Reason, tt.reason)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

type otherQuery struct{}

func (otherQuery) Shape() source.Shape { return source.ShapeValues }

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := newSource(t, srv.URL, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	_, err := s.Fetch(t.Context(), OperationErrors{}, blue, window)
	var se *source.Error
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Retryable)
	assert.Equal(t, "timeout after 50ms", se.Reason)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.Fetch(ctx, OperationErrors{}, blue, window)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "cancelled", se.Reason)
}

func TestFetchUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	s := newSource(t, srv.URL)
	_, err := s.Fetch(t.Context(), OperationErrors{}, blue, window)
	var se *source.Error
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Retryable)
	assert.False(t, errors.Is(err, source.ErrNoData))
}

func TestFetchBodyLimit(t *testing.T) {
	srv := serve(t, http.StatusOK, fixture(t))
	s := newSource(t, srv.URL, func(c *Config) { c.MaxBodyBytes = 100 })
	_, err := s.Fetch(t.Context(), OperationErrors{}, blue, window)
	assert.ErrorContains(t, err, "answer larger than 100 bytes")
}

// TestFetchCapturedAnswer reads an answer captured from Jaeger v1.76 (two example apps, blue v1
// and green v2, a few GET /health each).
func TestFetchCapturedAnswer(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "find-traces.json"))
	require.NoError(t, err)
	srv := serve(t, http.StatusOK, body)
	s := newSource(t, srv.URL)
	w := source.Window{Start: time.Unix(0, 0), End: time.Now()}
	for _, env := range []source.Env{blue, green} {
		res, err := s.Fetch(t.Context(), OperationErrors{Operation: "GET /health"}, env, w)
		require.NoError(t, err, env.Name)
		assert.Equal(t, &source.Counts{Total: 3}, res.Counts, env.Name)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no url", Config{Service: "checkout", Values: values}, "url is required"},
		{"relative url", Config{URL: "jaeger:16686", Service: "checkout", Values: values}, "must be an absolute http(s) URL"},
		{"no service", Config{URL: "http://jaeger", Values: values}, "service is required"},
		{"no values", Config{URL: "http://jaeger", Service: "checkout"}, "values must map at least one service.version value"},
		{"empty environment", Config{URL: "http://jaeger", Service: "checkout", Values: map[string]string{"v1": " "}}, `value "v1" maps to an empty environment name`},
		{"negative timeout", Config{URL: "http://jaeger", Service: "checkout", Values: values, Timeout: -time.Second}, "timeout must be positive"},
		{"negative maxTraces", Config{URL: "http://jaeger", Service: "checkout", Values: values, MaxTraces: -1}, "maxTraces must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			assert.ErrorIs(t, err, ErrConfig)
			assert.ErrorContains(t, err, tt.err)
		})
	}
	s, err := New(Config{URL: "http://jaeger:16686/base/", Service: "checkout", Values: values})
	require.NoError(t, err)
	assert.Equal(t, "http://jaeger:16686/base/api/v3/traces", s.endpoint.String())
	assert.Equal(t, DefaultAttribute, s.cfg.Attribute)
	assert.Equal(t, DefaultTimeout, s.cfg.Timeout)
	assert.Equal(t, DefaultMaxTraces, s.cfg.MaxTraces)
}
