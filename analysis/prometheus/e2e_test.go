package prometheus_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/analysis/prometheus"
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

func startApp(t *testing.T, cfg app.Config) *app.Server {
	t.Helper()
	srv, err := app.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

func slowHealth(ms int) app.Faults {
	d := app.Duration(time.Duration(ms) * time.Millisecond)
	return app.Faults{Latency: map[string]app.Duration{"/health": d}, Jitter: map[string]app.Duration{"/health": d / 2}}
}

// analysisFor is an analysis whose monitor makes the traffic and whose checks read what the
// apps themselves report to a real Prometheus.
func analysisFor(t *testing.T, promURL, policy string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: prom-e2e}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "` + promURL + `", interval: 1s, timeout: 5s}
monitors:
  - name: traffic
    every: 20ms
    rateLimit: 200
    step: {http: {url: /health}, expect: ["status in [200, 500]"]}
checks:
  - name: server-errors
    errorRate:
      prometheus:
        errors: sum(increase(http_requests_total{color="{{ .env.name }}",route="/health",code=~"5.."}[{{ .window }}])) or 0 * sum(increase(http_requests_total{color="{{ .env.name }}",route="/health"}[{{ .window }}]))
        total: sum(increase(http_requests_total{color="{{ .env.name }}",route="/health"}[{{ .window }}]))
      maxIncrease: 5%
  - name: server-p95
    latency:
      percentile: 95
      prometheus:
        buckets: sum by (le) (increase(http_request_duration_seconds_bucket{color="{{ .env.name }}",route="/health"}[{{ .window }}]))
      maxRatio: 1.5
policy: {` + policy + `}
`
	docs, err := specs.Parse("e2e.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	require.NoError(t, docs.Link(specs.LoadOptions{}))
	return docs.Analyses[0]
}

func run(t *testing.T, a *specs.Analysis, blue, green string, during func(analysis.Event)) *verdict.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	v, err := analysis.Run(ctx, analysis.Options{
		Analysis: a, Envs: map[string]string{"blue": blue, "green": green}, Tick: 250 * time.Millisecond, OnEvent: during,
	})
	require.NoError(t, err)
	t.Logf("%s after %s: %s", v.Decision, v.Duration, v.Reason)
	return v
}

func state(v *verdict.Verdict, name string) compare.State {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.State
		}
	}
	return ""
}

func TestRealPrometheusSourceShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("a real Prometheus; full run")
	}
	blue := startApp(t, app.Config{Color: "blue"})
	green := startApp(t, app.Config{Color: "green", Faults: app.Faults{ErrorRate: map[string]float64{"/health": 0.5}}})
	prom := prometheus.StartPrometheus(t, map[string]string{"blue": hostPort(t, blue.URL), "green": hostPort(t, green.URL)})
	get := func(n int) {
		for i := 0; i < n; i++ {
			for _, u := range []string{blue.URL, green.URL} {
				resp, err := http.Get(u + "/health")
				require.NoError(t, err)
				resp.Body.Close()
			}
		}
	}
	// Every series must exist before the window starts: increase() counts what happens between
	// scrapes, not a counter's first value.
	get(20)
	prom.WaitForSamples(t, `http_requests_total{route="/health",code="500"}`, 1)
	prom.WaitForSamples(t, `http_requests_total{route="/health",code="200"}`, 2)
	// The window holds a scrape of every series from before the traffic and one from after all
	// of it, however late the scrapes come on a loaded machine.
	start := time.Now()
	prom.WaitFor(t, `min(timestamp(http_requests_total{route="/health"}))`, func(ts float64) bool { return ts > float64(start.UnixMilli())/1000 })
	get(300)
	prom.WaitFor(t, `sum(http_requests_total{route="/health"})`, func(n float64) bool { return n == 2*(20+300) })
	s, err := prometheus.New(prometheus.Config{URL: prom.URL})
	require.NoError(t, err)
	w := source.Window{Start: start, End: time.Now()}
	parse := func(q string) *template.Template {
		tm, err := prometheus.Parse("q", q)
		require.NoError(t, err)
		return tm
	}

	counts := prometheus.CountsQuery{
		Errors: parse(`sum(increase(http_requests_total{color="{{ .env.name }}",route="/health",code=~"5.."}[{{ .window }}])) or 0 * sum(increase(http_requests_total{color="{{ .env.name }}",route="/health"}[{{ .window }}]))`),
		Total:  parse(`sum(increase(http_requests_total{color="{{ .env.name }}",route="/health"}[{{ .window }}]))`),
	}
	b, err := s.Fetch(context.Background(), counts, source.Env{Name: "blue"}, w)
	require.NoError(t, err)
	g, err := s.Fetch(context.Background(), counts, source.Env{Name: "green"}, w)
	require.NoError(t, err)
	assert.Greater(t, b.Counts.Total, 100.0)
	assert.Equal(t, 0.0, b.Counts.Errors, "blue serves no errors")
	assert.InDelta(t, 0.5, g.Counts.Errors/g.Counts.Total, 0.15, "green fails about half: %+v", g.Counts)

	h, err := s.Fetch(context.Background(), prometheus.HistogramQuery{Buckets: parse(`sum by (le) (increase(http_request_duration_seconds_bucket{color="{{ .env.name }}",route="/health"}[{{ .window }}]))`)}, source.Env{Name: "blue"}, w)
	require.NoError(t, err)
	assert.Greater(t, len(h.Histogram.LE), 10)
	assert.True(t, h.Histogram.LE[len(h.Histogram.LE)-1] > 1e300, "ends with +Inf")

	_, err = s.Fetch(context.Background(), prometheus.CountsQuery{Errors: parse(`sum(nope{color="{{ .env.name }}"})`), Total: counts.Total}, source.Env{Name: "blue"}, w)
	var se *source.Error
	require.ErrorAs(t, err, &se)
	assert.True(t, strings.HasPrefix(se.Reason, `errors query: sum(nope{color="blue"}) returned no series: nope{color="blue"} matches no series in the last 5m0s`), se.Reason)

	// The errors' zero that keeps a typo visible: `… or 0 * <total>` reads zero while the total's
	// series exist, and nothing when its selector is wrong.
	_, err = s.Fetch(context.Background(), prometheus.CountsQuery{
		Errors: parse(`sum(increase(http_requests_total{color="{{ .env.name }}",code="418"}[{{ .window }}])) or 0 * sum(increase(http_requests_total{colour="{{ .env.name }}"}[{{ .window }}]))`),
		Total:  counts.Total,
	}, source.Env{Name: "blue"}, w)
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Reason, `http_requests_total{color="blue",code="418"}, http_requests_total{colour="blue"} match no series`, "every selector that matches nothing is named")
}

// TestRealPrometheusAnalysis runs the engine against a real Prometheus scraping the two apps.
// Load stretches the latencies measured and delays scrapes: it may leave an analysis undecided
// (onInconclusive: hold), and the tests assert only what must hold under any load — never a
// wrong verdict.
func TestRealPrometheusAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("a real Prometheus; full run")
	}
	t.Run("green regressed is never promoted", func(t *testing.T) {
		blue := startApp(t, app.Config{Color: "blue", Faults: slowHealth(4)})
		green := startApp(t, app.Config{Color: "green", Faults: app.Faults{
			Latency:   map[string]app.Duration{"/health": app.Duration(4 * time.Millisecond)},
			ErrorRate: map[string]float64{"/health": 0.3},
		}})
		prom := prometheus.StartPrometheus(t, map[string]string{"blue": hostPort(t, blue.URL), "green": hostPort(t, green.URL)})
		v := run(t, analysisFor(t, prom.URL, "minDuration: 5s, maxDuration: 60s, onInconclusive: hold"), blue.URL, green.URL, nil)
		require.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		if v.Decision == verdict.Rollback {
			assert.Equal(t, compare.Fail, state(v, "server-errors"), v.Reason)
			assert.Contains(t, v.Reason, "server-errors: error rate green")
		}
	})
	t.Run("healthy is never rolled back", func(t *testing.T) {
		blue := startApp(t, app.Config{Color: "blue", Faults: slowHealth(4)})
		green := startApp(t, app.Config{Color: "green", Faults: slowHealth(4)})
		prom := prometheus.StartPrometheus(t, map[string]string{"blue": hostPort(t, blue.URL), "green": hostPort(t, green.URL)})
		v := run(t, analysisFor(t, prom.URL, "minDuration: 5s, maxDuration: 60s, onInconclusive: hold, falseRollbackRate: 0.1%"), blue.URL, green.URL, nil)
		require.NotEqual(t, verdict.Rollback, v.Decision, v.Reason)
		if v.Decision == verdict.Promote {
			assert.Equal(t, compare.Pass, state(v, "server-p95"), v.Reason)
			assert.GreaterOrEqual(t, v.Duration, 5*time.Second, "never before minDuration")
		}
	})
	t.Run("prometheus stopped mid-analysis never promotes", func(t *testing.T) {
		blue := startApp(t, app.Config{Color: "blue", Faults: slowHealth(4)})
		green := startApp(t, app.Config{Color: "green", Faults: slowHealth(4)})
		prom := prometheus.StartPrometheus(t, map[string]string{"blue": hostPort(t, blue.URL), "green": hostPort(t, green.URL)})
		stopped := false
		v := run(t, analysisFor(t, prom.URL, "minDuration: 40s, maxDuration: 60s, consecutiveErrors: 3, onInconclusive: promote"), blue.URL, green.URL,
			func(e analysis.Event) {
				if e.Kind == analysis.EventTick && e.Elapsed > 4*time.Second && !stopped {
					stopped = true
					prom.Stop()
				}
			})
		assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "its source failed 3 times in a row")
		assert.Contains(t, v.Reason, "cannot reach Prometheus")
	})
}
