package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
)

// fake answers the Prometheus HTTP API with canned bodies keyed by a substring of the query.
type fake struct {
	mu      sync.Mutex
	queries []string
	headers []http.Header
	answers map[string]string // query substring → JSON body
	series  map[string]bool   // selectors that match a series (/api/v1/series)
	status  int
	delay   time.Duration
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.headers = append(f.headers, r.Header.Clone())
	status, delay := f.status, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "/series") {
		f.mu.Lock()
		f.queries = append(f.queries, "series "+r.Form.Get("match[]"))
		found := f.series[r.Form.Get("match[]")]
		f.mu.Unlock()
		data := `[]`
		if found {
			data = `[{"__name__":"x"}]`
		}
		_, _ = w.Write([]byte(`{"status":"success","data":` + data + `}`))
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error at char 5"}`))
		return
	}
	for k, body := range f.answers {
		if strings.Contains(q, k) {
			_, _ = w.Write([]byte(body))
			return
		}
	}
	_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
}

func vector(samples ...string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
}

func sample(labels, value string) string {
	return `{"metric":{` + labels + `},"value":[1700000000,"` + value + `"]}`
}

func newSource(t *testing.T, f *fake, cfg Config) *Source {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	s, err := New(cfg)
	require.NoError(t, err)
	return s
}

func tmpl(t *testing.T, s string) *template.Template {
	t.Helper()
	x, err := Parse("q", s)
	require.NoError(t, err)
	return x
}

var (
	green  = source.Env{Name: "green", Role: "candidate", Labels: map[string]string{"ns": "shop"}}
	window = source.Window{Start: time.Unix(1700000000-300, 0), End: time.Unix(1700000000, 0)}
)

func TestCounts(t *testing.T) {
	f := &fake{answers: map[string]string{
		`code=~"5.."`: vector(sample(``, "12")),
		`total_all`:   vector(sample(``, "1000")),
	}}
	s := newSource(t, f, Config{BearerToken: specs.Secret("tok-123"), Headers: map[string]string{"X-Scope-OrgID": "team"}})
	q := CountsQuery{
		Errors: tmpl(t, `sum(increase(http_requests_total{color="{{ .env.name }}",ns="{{ .env.labels.ns }}",code=~"5.."}[{{ .window }}]))`),
		Total:  tmpl(t, `sum(increase(total_all{color="{{ .env.name }}"}[{{ .window }}]))`),
	}
	res, err := s.Fetch(context.Background(), q, green, window)
	require.NoError(t, err)
	assert.Equal(t, &source.Counts{Errors: 12, Total: 1000}, res.Counts)
	require.Len(t, f.queries, 2)
	assert.Equal(t, `sum(increase(http_requests_total{color="green",ns="shop",code=~"5.."}[300s]))`, f.queries[0])
	assert.Equal(t, "Bearer tok-123", f.headers[0].Get("Authorization"))
	assert.Equal(t, "team", f.headers[0].Get("X-Scope-OrgID"))
}

func TestFailSafe(t *testing.T) {
	counts := func(t *testing.T) CountsQuery {
		return CountsQuery{Errors: tmpl(t, `errs`), Total: tmpl(t, `total`)}
	}
	cases := []struct {
		name      string
		f         *fake
		q         func(t *testing.T) source.Query
		reason    string
		noData    bool
		retryable bool
	}{
		{"empty vector: a selector matches no series", &fake{answers: map[string]string{"total": vector(sample(``, "5"))}}, func(t *testing.T) source.Query { return counts(t) },
			"errors query: errs returned no series: errs matches no series in the last 5m0s (a typo in the metric, a label name or a value?); if the errors may not have happened yet, write the errors query `… or 0 * <the total query>`", false, false},
		{"empty vector: no samples in the window yet", &fake{answers: map[string]string{"total": vector(sample(``, "5"))}, series: map[string]bool{"errs": true}}, func(t *testing.T) source.Query { return counts(t) },
			"errors query: errs returned no series, though its series exist: no samples in the window yet?", true, false},
		{"empty histogram names the selector", &fake{series: map[string]bool{`h_bucket{color="green"}`: true}},
			func(t *testing.T) source.Query {
				return HistogramQuery{Buckets: tmpl(t, `sum by (le) (increase(h_bucket{color="{{ .env.name }}"}[{{ .window }}])) / on() group_left sum(h_count{colour="{{ .env.name }}"})`)}
			},
			`sum by (le) (increase(h_bucket{color="green"}[300s])) / on() group_left sum(h_count{colour="green"}) returned no series: h_count{colour="green"} matches no series in the last 5m0s`, false, false},
		{"NaN", &fake{answers: map[string]string{"errs": vector(sample(``, "NaN")), "total": vector(sample(``, "5"))}}, func(t *testing.T) source.Query { return counts(t) },
			"errors query: value is NaN (no traffic in the window?)", true, false},
		{"two series", &fake{answers: map[string]string{"errs": vector(sample(`"code":"500"`, "1"), sample(`"code":"503"`, "2"))}}, func(t *testing.T) source.Query { return counts(t) },
			`errors query: 2 series, want one: aggregate with sum(...) (got {code="500"}, {code="503"})`, false, false},
		{"errors above total", &fake{answers: map[string]string{"errs": vector(sample(``, "9")), "total": vector(sample(``, "5"))}}, func(t *testing.T) source.Query { return counts(t) },
			"errors (9) not between 0 and total (5): do both queries count the same requests?", false, false},
		{"bad query", &fake{status: 400}, func(t *testing.T) source.Query { return counts(t) },
			"errors query: query rejected (bad_data): parse error at char 5", false, false},
		{"server down", &fake{status: 503}, func(t *testing.T) source.Query { return counts(t) },
			"errors query: server error: 503", false, true},
		{"histogram without +Inf", &fake{answers: map[string]string{"bucket": vector(sample(`"le":"0.1"`, "3"), sample(`"le":"1"`, "5"))}},
			func(t *testing.T) source.Query { return HistogramQuery{Buckets: tmpl(t, "bucket")} }, `no le="+Inf" bucket: the total is unknown`, false, false},
		{"histogram not aggregated", &fake{answers: map[string]string{"bucket": vector(sample(`"pod":"a"`, "3"))}},
			func(t *testing.T) source.Query { return HistogramQuery{Buckets: tmpl(t, "bucket")} }, `series {pod="a"} has no le label: aggregate with sum by (le) (...)`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, tc.f, Config{})
			res, err := s.Fetch(context.Background(), tc.q(t), green, window)
			require.Error(t, err)
			assert.Nil(t, res.Counts, "no numbers that could pass")
			var se *source.Error
			require.ErrorAs(t, err, &se)
			assert.True(t, strings.HasPrefix(se.Reason, tc.reason), "reason %q", se.Reason)
			assert.Equal(t, tc.noData, errors.Is(err, source.ErrNoData))
			assert.Equal(t, tc.retryable, se.Retryable)
			assert.Equal(t, "green", se.Env)
			assert.True(t, strings.HasPrefix(err.Error(), "prometheus at http://127.0.0.1:"), "the error names the server: %s", err)
		})
	}
}

// TestTimeout: a server that sits on a query fails it at the timeout — exactly, on the fake
// clock of a synctest bubble, with the server on an in-memory network (Config.DialContext).
func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		url := n.Serve(t, "prometheus.test:9090", &fake{delay: 2 * time.Second})
		s, err := New(Config{URL: url, Timeout: 100 * time.Millisecond, DialContext: n.DialContext})
		require.NoError(t, err)
		start := time.Now()
		_, err = s.Fetch(t.Context(), CountsQuery{Errors: tmpl(t, "a"), Total: tmpl(t, "b")}, green, window)
		var se *source.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "errors query: timeout after 100ms", se.Reason)
		assert.True(t, se.Retryable)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
	})
}

func TestHistogram(t *testing.T) {
	f := &fake{answers: map[string]string{"bucket": vector(
		sample(`"le":"+Inf"`, "100"), sample(`"le":"0.1"`, "60"), sample(`"le":"0.5"`, "97.5"), sample(`"le":"1"`, "99"))}}
	s := newSource(t, f, Config{Username: "u", Password: specs.Secret("p")})
	res, err := s.Fetch(context.Background(), HistogramQuery{Buckets: tmpl(t, `sum by (le) (increase(bucket{color="{{ .env.name }}"}[{{ .window }}]))`)}, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.1, 0.5, 1}, res.Histogram.LE[:3], "sorted by bound")
	assert.Equal(t, []float64{60, 97.5, 99, 100}, res.Histogram.Cumulative)
	u, p, ok := (&http.Request{Header: f.headers[0]}).BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, [2]string{"u", "p"}, [2]string{u, p})
}

func TestValues(t *testing.T) {
	f := &fake{answers: map[string]string{"cpu": `{"status":"success","warnings":["partial data"],"data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"0.5"],[1700000030,"0.6"]]}]}}`}}
	s := newSource(t, f, Config{})
	res, err := s.Fetch(context.Background(), ValuesQuery{Query: tmpl(t, "cpu"), Step: 30 * time.Second}, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, 0.6}, res.Values)
	assert.Equal(t, []string{"partial data"}, res.Warnings, "warnings are surfaced")
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	s := newSource(t, &fake{status: 503}, Config{BearerToken: specs.Secret("very-secret-token")})
	_, err := s.Fetch(context.Background(), CountsQuery{Errors: tmpl(t, "a"), Total: tmpl(t, "b")}, green, window)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "very-secret-token")
}

// In an analysis's first minute a selector that matches no series may only be waiting for the
// candidate's first scrape: it is no data then, and a source error that counts after.
func TestUnmatchedSelectorGrace(t *testing.T) {
	s := newSource(t, &fake{}, Config{})
	q := HistogramQuery{Buckets: tmpl(t, `sum by (le) (cpu{color="{{ .env.name }}"})`)}
	for _, tc := range []struct {
		window time.Duration
		noData bool
	}{{59 * time.Second, true}, {time.Minute, false}} {
		_, err := s.Fetch(context.Background(), q, green, source.Window{Start: window.End.Add(-tc.window), End: window.End})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `cpu{color="green"} matches no series in the last 5m0s`)
		assert.Equal(t, tc.noData, errors.Is(err, source.ErrNoData), "window %s", tc.window)
	}
}
