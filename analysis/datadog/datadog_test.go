package datadog

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
)

const (
	testAPIKey = "0f3c9d1e2a7b4c5d8e6f0a1b2c3d4e5f"
	testAppKey = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
)

var (
	t0     = time.Unix(1700000000, 0)
	window = source.Window{Start: t0, End: t0.Add(5 * time.Minute), Step: time.Minute}
	green  = source.Env{Name: "green", Role: "candidate", Labels: map[string]string{"service": "checkout", "version": "v2"}}
)

// A v1 /api/v1/query answer as Datadog sends it: timestamps in float milliseconds, null where
// an interval had no data.
const v1OK = `{
  "status": "ok", "res_type": "time_series", "resp_version": 1,
  "query": "sum:trace.http.request.hits{color:green}.as_count()",
  "message": "", "group_by": [],
  "from_date": 1700000000000, "to_date": 1700000300000,
  "series": [{
    "metric": "trace.http.request.hits", "display_name": "trace.http.request.hits",
    "aggr": "sum", "scope": "color:green", "tag_set": [], "query_index": 0,
    "expression": "sum:trace.http.request.hits{color:green}.as_count()",
    "unit": null, "interval": 60, "length": 3,
    "start": 1700000000000, "end": 1700000179000,
    "pointlist": [[1700000000000.0, 12.0], [1700000060000.0, null], [1700000120000.0, 8.0]]
  }]
}`

func v1Series(points string) string {
	return `{"status":"ok","res_type":"time_series","from_date":1700000000000,"to_date":1700000300000,"group_by":[],
	  "series":[{"metric":"m","scope":"color:green","aggr":"sum","expression":"sum:m{color:green}","pointlist":` + points + `}]}`
}

// A v2 /api/v2/query/timeseries answer: one values array per formula, aligned with times.
const v2OK = `{"data":{"type":"timeseries_response","id":"0","attributes":{
  "series":[{"group_tags":[],"query_index":0,"unit":[{"family":"percentage","name":"percent","plural":"percent","scale_factor":1.0,"short_name":"%"},null]}],
  "times":[1700000000000,1700000060000,1700000120000],
  "values":[[0.25,null,0.5]]}}}`

type reply struct {
	status int
	header map[string]string
	body   string
}

type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
}

// fakeDatadog serves Datadog's wire format from a script of replies and records what it got.
type fakeDatadog struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(n int, r recorded) reply
}

func newFake(t *testing.T, respond func(n int, r recorded) reply) *fakeDatadog {
	t.Helper()
	f := &fakeDatadog{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body}
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, rec)
		f.mu.Unlock()
		rp := f.respond(n, rec)
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		_, _ = io.WriteString(w, rp.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// script replies with each in turn, then repeats the last.
func script(replies ...reply) func(int, recorded) reply {
	return func(n int, _ recorded) reply { return replies[min(n, len(replies)-1)] }
}

func ok(body string) reply { return reply{status: 200, body: body} }

func (f *fakeDatadog) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func noEnv(string) (string, bool) { return "", false }

func newSource(t *testing.T, f *fakeDatadog, edit ...func(*Config)) *Source {
	t.Helper()
	cfg := Config{
		APIKey: testAPIKey, AppKey: testAppKey,
		BaseURL: f.srv.URL, HTTPClient: f.srv.Client(),
		Backoff: 10 * time.Millisecond,
	}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := New(cfg, noEnv, nil)
	require.NoError(t, err)
	return s
}

func mustMetric(t *testing.T, q string) *MetricQuery {
	t.Helper()
	m, err := NewMetricQuery(q)
	require.NoError(t, err)
	return m
}

func TestV1WireFormat(t *testing.T) {
	f := newFake(t, script(ok(v1OK)))
	s := newSource(t, f)
	q := mustMetric(t, "sum:trace.http.request.hits{service:{{ .env.labels.service }},color:{{ .env.name }}}.as_count()")

	res, err := s.Fetch(t.Context(), q, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{12, 8}, res.Values, "the null point is skipped, not zeroed")

	reqs := f.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodGet, r.method)
	assert.Equal(t, "/api/v1/query", r.path)
	assert.Equal(t, url.Values{
		"from":  {"1700000000"},
		"to":    {"1700000300"},
		"query": {"sum:trace.http.request.hits{service:checkout,color:green}.as_count()"},
	}, r.query)
	assert.Equal(t, testAPIKey, r.header.Get("DD-API-KEY"))
	assert.Equal(t, testAppKey, r.header.Get("DD-APPLICATION-KEY"))
	assert.Equal(t, "application/json", r.header.Get("Accept"))
	assert.Empty(t, r.header.Get("Authorization"))
}

func TestV2WireFormat(t *testing.T) {
	f := newFake(t, script(ok(v2OK)))
	s := newSource(t, f)
	q, err := NewFormulaQuery(map[string]string{
		"hits":   "sum:trace.http.request.hits{color:{{ .env.name }}}.as_count()",
		"errors": "sum:trace.http.request.errors{color:{{ .env.name }}}.as_count()",
	}, "errors / hits")
	require.NoError(t, err)

	res, err := s.Fetch(t.Context(), q, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.25, 0.5}, res.Values)
	assert.Empty(t, res.Warnings)

	reqs := f.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.method)
	assert.Equal(t, "/api/v2/query/timeseries", r.path)
	assert.Empty(t, r.query)
	assert.Equal(t, testAPIKey, r.header.Get("DD-API-KEY"))
	assert.Equal(t, testAppKey, r.header.Get("DD-APPLICATION-KEY"))
	assert.Equal(t, "application/json", r.header.Get("Accept"))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.JSONEq(t, `{"data": {
	  "type": "timeseries_request",
	  "attributes": {
	    "from": 1700000000000, "to": 1700000300000, "interval": 60000,
	    "queries": [
	      {"data_source": "metrics", "name": "errors", "query": "sum:trace.http.request.errors{color:green}.as_count()"},
	      {"data_source": "metrics", "name": "hits", "query": "sum:trace.http.request.hits{color:green}.as_count()"}
	    ],
	    "formulas": [{"formula": "errors / hits"}]
	  }
	}}`, string(r.body))
}

func TestCounts(t *testing.T) {
	f := newFake(t, func(_ int, r recorded) reply {
		if strings.Contains(r.query.Get("query"), "errors") {
			return ok(v1Series(`[[1700000000000.0, 1.0], [1700000060000.0, null], [1700000120000.0, 2.0]]`))
		}
		return ok(v1Series(`[[1700000000000.0, 100.0], [1700000060000.0, 150.0], [1700000120000.0, null]]`))
	})
	s := newSource(t, f)
	q, err := NewCountsQuery(
		"sum:trace.http.request.errors{color:{{ .env.name }}}.as_count()",
		"sum:trace.http.request.hits{color:{{ .env.name }}}.as_count()")
	require.NoError(t, err)

	res, err := s.Fetch(t.Context(), q, green, window)
	require.NoError(t, err)
	assert.Equal(t, &source.Counts{Errors: 3, Total: 250}, res.Counts)
	assert.Nil(t, res.Values)

	var sent []string
	for _, r := range f.requests() {
		assert.Equal(t, "/api/v1/query", r.path)
		sent = append(sent, r.query.Get("query"))
	}
	assert.Equal(t, []string{
		"sum:trace.http.request.errors{color:green}.as_count()",
		"sum:trace.http.request.hits{color:green}.as_count()",
	}, sent)
}

func TestCountsRefused(t *testing.T) {
	tests := []struct {
		name         string
		errors, hits string
		noData       bool
		reason       string
	}{
		{
			name:   "no error series",
			errors: `{"status":"ok","series":[]}`, hits: v1Series(`[[1700000000000.0, 10.0]]`),
			reason: "default_zero",
		},
		{
			name:   "errors exceed total",
			errors: v1Series(`[[1700000000000.0, 11.0]]`), hits: v1Series(`[[1700000000000.0, 10.0]]`),
			reason: "errors (11) not between 0 and total (10)",
		},
		{
			name:   "total all null",
			errors: v1Series(`[[1700000000000.0, 0.0]]`), hits: v1Series(`[[1700000000000.0, null]]`),
			noData: true, reason: "total query",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(_ int, r recorded) reply {
				if strings.Contains(r.query.Get("query"), "errors") {
					return ok(tt.errors)
				}
				return ok(tt.hits)
			})
			q, err := NewCountsQuery("sum:errors{*}.as_count()", "sum:hits{*}.as_count()")
			require.NoError(t, err)
			_, err = newSource(t, f).Fetch(t.Context(), q, green, window)
			se := requireSourceError(t, err)
			assert.Equal(t, tt.noData, errors.Is(err, source.ErrNoData))
			assert.Contains(t, se.Reason, tt.reason)
			assert.False(t, se.Retryable)
		})
	}
}

// No series is no data in an analysis's first minute (the candidate's metrics may not exist
// yet), and a source error that counts toward policy.consecutiveErrors after: a typo in a tag
// then ends the analysis instead of lasting maxDuration.
func TestNoSeriesCountsAfterAMinute(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		noData bool
	}{{59 * time.Second, true}, {time.Minute, false}} {
		f := newFake(t, script(ok(`{"status":"ok","series":[]}`)))
		w := source.Window{Start: t0, End: t0.Add(tc.window), Step: time.Minute}
		_, err := newSource(t, f).Fetch(t.Context(), mustMetric(t, "avg:cpu{colour:{{ .env.name }}}"), green, w)
		se := requireSourceError(t, err)
		assert.Contains(t, se.Reason, `query "avg:cpu{colour:green}": no series in the window (a typo in the metric or a tag?)`)
		assert.Equal(t, tc.noData, errors.Is(err, source.ErrNoData), "window %s", tc.window)
	}
}

func TestResponseShapes(t *testing.T) {
	v1Two := `{"status":"ok","series":[
	  {"metric":"trace.http.request.hits","scope":"color:green,host:a","expression":"sum:trace.http.request.hits{color:green,host:a}","pointlist":[[1700000000000.0,1.0]]},
	  {"metric":"trace.http.request.hits","scope":"color:green,host:b","expression":"sum:trace.http.request.hits{color:green,host:b}","pointlist":[[1700000000000.0,2.0]]}]}`
	v2Two := `{"data":{"type":"timeseries_response","attributes":{
	  "series":[{"group_tags":["host:a"],"query_index":0},{"group_tags":["host:b"],"query_index":0}],
	  "times":[1700000000000],"values":[[1.0],[2.0]]}}}`
	v2Empty := `{"data":{"type":"timeseries_response","attributes":{"series":[],"times":[],"values":[]}}}`
	v2AllNull := `{"data":{"type":"timeseries_response","attributes":{"series":[{"group_tags":[]}],"times":[1700000000000,1700000060000],"values":[[null,null]]}}}`
	v2Err := `{"data":{"type":"timeseries_response","attributes":{}},"errors":"Error parsing formula: unknown query nme"}`

	formula, err := NewFormulaQuery(map[string]string{"a": "sum:m{color:{{ .env.name }}}"}, "a")
	require.NoError(t, err)
	metric := mustMetric(t, "sum:m{color:{{ .env.name }}}")

	tests := []struct {
		name   string
		q      source.Query
		body   string
		want   []float64
		noData bool
		reason string
	}{
		{name: "v1 nulls skipped", q: metric, body: v1Series(`[[1700000000000.0, null], [1700000060000.0, 0.0], [1700000120000.0, 3.5]]`), want: []float64{0, 3.5}},
		{name: "v1 all null", q: metric, body: v1Series(`[[1700000000000.0, null], [1700000060000.0, null]]`), noData: true, reason: "all 2 points are null"},
		{name: "v1 no points", q: metric, body: v1Series(`[]`), noData: true, reason: "all 0 points are null"},
		{name: "v1 empty series", q: metric, body: `{"status":"ok","res_type":"time_series","series":[],"from_date":1700000000000,"to_date":1700000300000}`, reason: "no series in the window (a typo in the metric or a tag?)"},
		{name: "v1 two series", q: metric, body: v1Two, reason: "2 series, want one: aggregate them (sum:…, avg:…) rather than group by tags (got sum:trace.http.request.hits{color:green,host:a}, sum:trace.http.request.hits{color:green,host:b})"},
		{name: "v1 error status", q: metric, body: `{"status":"error","error":"Rule parsing error: unexpected token"}`, reason: "Datadog says error: Rule parsing error"},
		{name: "v1 infinite value", q: metric, body: v1Series(`[[1700000000000.0, 1e999]]`), reason: "cannot decode"},
		{name: "v1 not json", q: metric, body: `<html>oops</html>`, reason: "cannot decode"},
		{name: "v2 nulls skipped", q: formula, body: v2OK, want: []float64{0.25, 0.5}},
		{name: "v2 empty", q: formula, body: v2Empty, reason: "no series"},
		{name: "v2 no data", q: formula, body: `{"data":{"type":"timeseries_response","attributes":{}}}`, reason: "no series"},
		{name: "v2 all null", q: formula, body: v2AllNull, noData: true, reason: "all 2 points are null"},
		{name: "v2 two series", q: formula, body: v2Two, reason: `formula "a": 2 series, want one: aggregate the queries rather than group by tags (got {host:a}, {host:b})`},
		{name: "v2 errors and no values", q: formula, body: v2Err, reason: "Datadog says Error parsing formula"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, script(ok(tt.body)))
			res, err := newSource(t, f).Fetch(t.Context(), tt.q, green, window)
			if tt.reason == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, res.Values)
				return
			}
			se := requireSourceError(t, err)
			assert.Equal(t, "datadog", se.Source)
			assert.Equal(t, "green", se.Env)
			assert.Contains(t, se.Reason, tt.reason)
			assert.Equal(t, tt.noData, errors.Is(err, source.ErrNoData), "ErrNoData")
			assert.False(t, se.Retryable)
			assert.Equal(t, source.Result{}, res, "no numbers alongside an error")
			assert.Len(t, f.requests(), 1, "a bad answer is not retried")
		})
	}
}

func TestV2PartialErrorsAreWarnings(t *testing.T) {
	body := `{"data":{"type":"timeseries_response","attributes":{"series":[{"group_tags":[]}],"times":[1700000000000],"values":[[4.0]]}},"errors":"some queries timed out"}`
	f := newFake(t, script(ok(body)))
	q, err := NewFormulaQuery(map[string]string{"a": "avg:m{*}"}, "a")
	require.NoError(t, err)
	res, err := newSource(t, f).Fetch(t.Context(), q, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{4}, res.Values)
	assert.Equal(t, []string{"Datadog: some queries timed out"}, res.Warnings)
}

func TestPointsRefuseNaNAndInf(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, fe := points([]int64{1700000000000, 1700000060000}, []*float64{ptr(1), &v})
		require.NotNil(t, fe)
		assert.Contains(t, fe.reason, "value at 2023-11-14T22:14:20Z is ")
		assert.False(t, errors.Is(fe.err, source.ErrNoData))
	}
}

func TestFetchRefusesBadInput(t *testing.T) {
	f := newFake(t, script(ok(v1OK)))
	s := newSource(t, f)
	tests := []struct {
		name   string
		q      source.Query
		w      source.Window
		reason string
	}{
		{name: "unknown query type", q: otherQuery{}, w: window, reason: "unsupported query datadog.otherQuery"},
		{name: "empty window", q: mustMetric(t, "sum:m{*}"), w: source.Window{Start: t0, End: t0}, reason: "is empty"},
		{name: "missing label", q: mustMetric(t, "sum:m{zone:{{ .env.labels.zone }}}"), w: window, reason: `map has no entry for key "zone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Fetch(t.Context(), tt.q, green, tt.w)
			se := requireSourceError(t, err)
			assert.Contains(t, se.Reason, tt.reason)
			assert.False(t, se.Retryable)
		})
	}
	assert.Empty(t, f.requests())
}

type otherQuery struct{}

func (otherQuery) Shape() source.Shape { return source.ShapeHistogram }

func requireSourceError(t *testing.T, err error) *source.Error {
	t.Helper()
	require.Error(t, err)
	var se *source.Error
	require.ErrorAs(t, err, &se)
	return se
}

// captureTransport answers every request itself: what New builds can be inspected without a
// network.
type captureTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	c.mu.Unlock()
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Request: r,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(v1OK)),
	}, nil
}

func TestConfigFromEnvironment(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	keys := map[string]string{"DD_API_KEY": testAPIKey, "DD_APP_KEY": testAppKey}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range keys {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		cfg  Config
		env  map[string]string
		url  string
	}{
		{name: "default site", env: keys, url: "https://api.datadoghq.com"},
		{name: "DD_SITE", env: with(map[string]string{"DD_SITE": "datadoghq.eu"}), url: "https://api.datadoghq.eu"},
		{name: "site beats DD_SITE", cfg: Config{Site: "us5.datadoghq.com"}, env: with(map[string]string{"DD_SITE": "datadoghq.eu"}), url: "https://api.us5.datadoghq.com"},
		{name: "base URL beats both", cfg: Config{Site: "us5.datadoghq.com", BaseURL: "http://127.0.0.1:8126/"}, env: with(map[string]string{"DD_SITE": "datadoghq.eu"}), url: "http://127.0.0.1:8126"},
		{name: "keys in config beat the environment", cfg: Config{APIKey: testAPIKey, AppKey: testAppKey}, env: map[string]string{"DD_API_KEY": "other-api", "DD_APP_KEY": "other-app"}, url: "https://api.datadoghq.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &captureTransport{}
			tt.cfg.HTTPClient = &http.Client{Transport: rt}
			s, err := New(tt.cfg, env(tt.env), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.url, s.BaseURL())

			_, err = s.Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
			require.NoError(t, err)
			require.Len(t, rt.reqs, 1)
			r := rt.reqs[0]
			assert.Equal(t, tt.url+"/api/v1/query", r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
			assert.Equal(t, testAPIKey, r.Header.Get("DD-API-KEY"))
			assert.Equal(t, testAppKey, r.Header.Get("DD-APPLICATION-KEY"))
		})
	}
}

func TestConfigRefused(t *testing.T) {
	keys := Config{APIKey: testAPIKey, AppKey: testAppKey}
	tests := []struct {
		name string
		cfg  Config
		env  map[string]string
		want string
	}{
		{name: "no API key", cfg: Config{AppKey: testAppKey}, want: "datadog: no API key: configure one or set DD_API_KEY"},
		{name: "no app key", cfg: Config{APIKey: testAPIKey}, env: map[string]string{"DD_APP_KEY": " "}, want: "datadog: no application key: configure one or set DD_APP_KEY"},
		{name: "site is a URL", cfg: Config{APIKey: testAPIKey, AppKey: testAppKey, Site: "https://app.datadoghq.eu"}, want: `datadog: site "https://app.datadoghq.eu": want a site such as datadoghq.eu, not a URL (use a base URL for that)`},
		{name: "DD_SITE is the API host", cfg: keys, env: map[string]string{"DD_SITE": "api.datadoghq.eu"}, want: `datadog: DD_SITE "api.datadoghq.eu": want the site (datadoghq.eu), not a host on it`},
		{name: "base URL with a path", cfg: Config{APIKey: testAPIKey, AppKey: testAppKey, BaseURL: "http://localhost:8080/api"}, want: `datadog: base URL "http://localhost:8080/api": want scheme://host[:port]`},
		{name: "base URL without scheme", cfg: Config{APIKey: testAPIKey, AppKey: testAppKey, BaseURL: "localhost:8080"}, want: `datadog: base URL "localhost:8080": want scheme://host[:port]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, nil)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Store("key", r.Header.Get("DD-API-KEY"))
		_, _ = io.WriteString(w, v1OK)
	}))
	t.Cleanup(other.Close)
	f := newFake(t, script(reply{status: http.StatusFound, header: map[string]string{"Location": other.URL + "/api/v1/query"}}))
	_, err := newSource(t, f).Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
	se := requireSourceError(t, err)
	assert.Contains(t, se.Reason, "HTTP 302: redirects are not followed")
	_, reached := elsewhere.Load("key")
	assert.False(t, reached, "the keys never leave for another host")
}

func ptr(v float64) *float64 { return &v }
