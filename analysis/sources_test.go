package analysis

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// promFake answers instant queries with per-environment counts, picked by the color label in
// the query, and can be switched off to answer 503.
type promFake struct {
	counts map[string][2]string // color → errors, total
	down   atomic.Bool
	calls  atomic.Int64
}

func (f *promFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	_ = r.ParseForm()
	q := r.Form.Get("query")
	w.Header().Set("Content-Type", "application/json")
	if f.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"shutting down"}`))
		return
	}
	if strings.HasSuffix(r.URL.Path, "/series") {
		// Series exist for the colours it has counts for.
		data := `[]`
		for color := range f.counts {
			if strings.Contains(r.Form.Get("match[]"), `color="`+color+`"`) {
				data = `[{"__name__":"http_requests_total","color":"` + color + `"}]`
			}
		}
		_, _ = w.Write([]byte(`{"status":"success","data":` + data + `}`))
		return
	}
	for color, c := range f.counts {
		if strings.Contains(q, `color="`+color+`"`) {
			v := c[1]
			if strings.Contains(q, "5..") {
				v = c[0]
			}
			_, _ = w.Write([]byte(`{"status":"success","warnings":["some blocks missing"],"data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"` + v + `"]}]}}`))
			return
		}
	}
	_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
}

func promAnalysis(t *testing.T, url, policy string) *specs.Analysis {
	t.Helper()
	return promAnalysisLabel(t, url, policy, "color")
}

// promAnalysisLabel is promAnalysis with the total query's environment label named label (a
// typo, say).
func promAnalysisLabel(t *testing.T, url, policy, label string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: prom}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "` + url + `", interval: 100ms, timeout: 1s}
checks:
  - name: server-errors
    errorRate:
      prometheus:
        errors: sum(increase(http_requests_total{color="{{ .env.name }}",code=~"5.."}[{{ .window }}])) or 0 * sum(increase(http_requests_total{color="{{ .env.name }}"}[{{ .window }}]))
        total: sum(increase(http_requests_total{` + label + `="{{ .env.name }}"}[{{ .window }}]))
      maxIncrease: 1%
policy: {` + policy + `}
`
	docs, err := specs.Parse("p.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return docs.Analyses[0]
}

// runProm runs a on n (inside a bubble: Prometheus is a fake served on n).
func runProm(t *testing.T, n *memnet.Network, a *specs.Analysis) *verdict.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	v, err := Run(ctx, Options{Analysis: a, Tick: 50 * time.Millisecond, DialContext: n.DialContext})
	require.NoError(t, err)
	return v
}

func TestPrometheusRegressionRollsBack(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		f := &promFake{counts: map[string][2]string{"blue": {"0", "2000"}, "green": {"200", "2000"}}}
		url := n.Serve(t, "prometheus.test:9090", f)
		v := runProm(t, n, promAnalysis(t, url, "minDuration: 1s, maxDuration: 20s"))
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		assert.Equal(t, "prometheus", v.Checks[0].Source)
		assert.Contains(t, v.Reason, "error rate green 10.00% vs blue 0.00%")
		assert.Contains(t, v.Checks[0].Warnings, "green: some blocks missing", "the source's warnings reach the outcome")
		assert.Contains(t, v.Reason, "[source warnings: blue: some blocks missing;")
		assert.Less(t, v.Duration, time.Second, "a failing check needs no minDuration")
	})
}

func TestPrometheusHealthyPromotes(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		f := &promFake{counts: map[string][2]string{"blue": {"1", "5000"}, "green": {"2", "5000"}}}
		url := n.Serve(t, "prometheus.test:9090", f)
		v := runProm(t, n, promAnalysis(t, url, "minDuration: 500ms, maxDuration: 20s"))
		assert.Equal(t, verdict.Promote, v.Decision, v.Reason)
		assert.Equal(t, compare.Pass, v.Checks[0].State)
		assert.Equal(t, 500*time.Millisecond, v.Duration, "promoted at minDuration")
	})
}

// TestBothBrokenNeverPromotesFromMetrics: blue and green fail alike, so the relative check
// passes; the evidence floor (policy.evidence) still refuses the promote, whatever
// onInconclusive says, for counts from Prometheus and from Datadog.
func TestBothBrokenNeverPromotesFromMetrics(t *testing.T) {
	cases := []struct {
		name       string
		errs, tot  string
		wantReason string
	}{
		{"both down", "5000", "5000", "no evidence that green works (server-errors: green succeeded 0 of 5000 times (policy.evidence.minSuccesses: 10))"},
		{"both failing most requests", "3000", "5000", "no evidence that green works (server-errors: green failed 60% of 5000 (above policy.evidence.maxErrorRate 50%))"},
		{"no traffic", "0", "0", "server-errors"},
	}
	for _, tc := range cases {
		t.Run("prometheus/"+tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				f := &promFake{counts: map[string][2]string{"blue": {tc.errs, tc.tot}, "green": {tc.errs, tc.tot}}}
				url := n.Serve(t, "prometheus.test:9090", f)
				v := runProm(t, n, promAnalysis(t, url, "minDuration: 100ms, maxDuration: 1s, onInconclusive: promote"))
				assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
				assert.Contains(t, v.Reason, tc.wantReason)
			})
		})
		t.Run("datadog/"+tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				v := runDatadog(t, n, map[string]string{"blue": tc.errs, "green": tc.errs}, map[string]string{"blue": tc.tot, "green": tc.tot},
					"minDuration: 100ms, maxDuration: 1s, onInconclusive: promote")
				assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
				assert.Contains(t, v.Reason, strings.ReplaceAll(tc.wantReason, "server-errors", "dd-errors"))
			})
		})
	}
}

// TestPrometheusStoppedNeverPromotes stops Prometheus mid-analysis: the check keeps its last
// numbers but is undecided while the source fails, and after consecutiveErrors failures the
// analysis ends without a promote.
func TestPrometheusStoppedNeverPromotes(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   verdict.Decision
	}{{"hold", verdict.Inconclusive}, {"promote", verdict.Inconclusive}, {"rollback", verdict.Rollback}} {
		t.Run(tc.policy, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				f := &promFake{counts: map[string][2]string{"blue": {"1", "5000"}, "green": {"2", "5000"}}}
				url := n.Serve(t, "prometheus.test:9090", f)
				f.down.Store(true)
				v := runProm(t, n, promAnalysis(t, url, "minDuration: 100ms, maxDuration: 20s, consecutiveErrors: 3, onInconclusive: "+tc.policy))
				assert.Equal(t, tc.want, v.Decision, v.Reason)
				assert.Contains(t, v.Reason, "server-errors: its source failed 3 times in a row")
				assert.Contains(t, v.Reason, "(prometheus at http://prometheus.test:9090 for blue: errors query: server error: 503)")
				assert.Contains(t, v.Checks[0].Error, "prometheus at http://prometheus.test:9090 for blue")
				assert.Equal(t, compare.Error, v.Checks[0].State, "a check whose source fails is in the error state")
				// Polled every 100ms; the tick that sees the third failure ends the run.
				assert.Equal(t, int64(3), f.calls.Load(), "three polls, each stopped by blue's failed errors query")
			})
		})
	}
}

// TestPrometheusLabelTypoEndsFast: a query whose selector matches no series (a typo in a
// label) is a source error once the analysis is a minute in, so policy.consecutiveErrors ends it
// then, without a promote, instead of waiting for maxDuration; the reason names the query, the
// selector and the server.
func TestPrometheusLabelTypoEndsFast(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		f := &promFake{counts: map[string][2]string{"blue": {"1", "5000"}, "green": {"2", "5000"}}}
		url := n.Serve(t, "prometheus.test:9090", f)
		v := runProm(t, n, promAnalysisLabel(t, url, "minDuration: 100ms, maxDuration: 30m, consecutiveErrors: 3, onInconclusive: promote", "colour"))
		assert.Equal(t, verdict.Inconclusive, v.Decision, v.Reason)
		assert.Equal(t, compare.Error, v.Checks[0].State)
		assert.Contains(t, v.Reason, "server-errors: its source failed 3 times in a row")
		assert.Contains(t, v.Reason, `prometheus at http://prometheus.test:9090 for blue: total query: sum(increase(http_requests_total{colour="blue"}[`)
		assert.Contains(t, v.Reason, `returned no series: http_requests_total{colour="blue"} matches no series in the last 5m0s`)
		assert.Less(t, v.Duration, 2*time.Minute, "a minute's grace and three polls, not maxDuration")
	})
}

func TestPrometheusInvalidSpec(t *testing.T) {
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: p}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
checks:
  - name: c
    errorRate: {prometheus: {errors: "{{ .env.name", total: x}, maxIncrease: 1%}
  - name: v
    values: {prometheus: {query: "up"}, criterion: "== 3"}
`
	_, err := specs.Parse("p.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.Error(t, err)
	for _, want := range []string{
		`check "c" reads prometheus: declare sources.prometheus`,
		`check "c": prometheus.errors: invalid template: unclosed action`,
		`check "v": criterion "== 3": want an operator`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestSourceKindsMatchSpecs(t *testing.T) {
	var built []string
	for kind, k := range sourceKinds {
		built = append(built, kind)
		assert.NotNil(t, k.Query, "%s compiles the checks' queries", kind)
	}
	sort.Strings(built)
	assert.Equal(t, specs.SourceKinds(), built)
}

// TestCheckKindsMatchSpecs: every check kind the language accepts can be built, and each reads
// what the language lets it read — a monitor when it can name one, a source when it has a
// source's key.
func TestCheckKindsMatchSpecs(t *testing.T) {
	var built []string
	for kind, k := range checkKinds {
		built = append(built, kind)
		assert.True(t, k.monitor != nil || k.source != nil, "%s is fed by something", kind)
	}
	sort.Strings(built)
	assert.Equal(t, specs.CheckKinds(), built)
}

// TestSourceErrorsRedactSecrets: a source failing with a message that quotes the credential it
// was sent reaches the verdict and the events with the credential redacted.
func TestSourceErrorsRedactSecrets(t *testing.T) {
	inBubble(t, testSourceErrorsRedactSecrets)
}

func testSourceErrorsRedactSecrets(t *testing.T, n *memnet.Network) {
	const token = "prom-bearer-token-123"
	url := n.Serve(t, "prometheus.test:9090", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		msg, _ := json.Marshal("rejected credentials " + r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":` + string(msg) + `}`))
	}))
	text := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: prom}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "` + url + `", interval: 50ms, timeout: 1s, bearerToken: {env: PROM_TOKEN}}
checks:
  - {name: errs, errorRate: {prometheus: {errors: "1", total: "2"}, maxIncrease: 1%}}
policy: {minDuration: 100ms, maxDuration: 20s, consecutiveErrors: 2, onInconclusive: hold}
`
	docs, err := specs.Parse("p.yaml", []byte(text), specs.LoadOptions{LookupEnv: func(k string) (string, bool) { return token, k == "PROM_TOKEN" }})
	require.NoError(t, err)
	var events, logs strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	v, err := Run(ctx, Options{Analysis: docs.Analyses[0], Tick: 50 * time.Millisecond, Logger: logger, DialContext: n.DialContext, OnEvent: func(e Event) {
		for _, c := range e.Checks {
			events.WriteString(c.Error + " " + c.Reason + "\n")
		}
	}})
	require.NoError(t, err)
	require.Equal(t, verdict.Inconclusive, v.Decision, v.Reason)
	assert.Contains(t, v.Checks[0].Error, "rejected credentials Bearer <secret>", "the source's message is kept, redacted")
	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.NotContains(t, string(out), token)
	assert.NotContains(t, events.String(), token)
	assert.Contains(t, logs.String(), "source failed")
	assert.NotContains(t, logs.String(), token)
}

// TestBlindWatchIsNoPass: a watch whose source fails consecutiveErrors times in a row ends
// early and does not confirm the promote — inconclusive, or a rollback under onInconclusive:
// rollback — so a pipeline is never told "the watch passed" by a watch that saw nothing.
func TestBlindWatchIsNoPass(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   verdict.Decision
	}{{"hold", verdict.Inconclusive}, {"rollback", verdict.Rollback}} {
		t.Run(tc.policy, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				f := &promFake{counts: map[string][2]string{"blue": {"1", "5000"}, "green": {"2", "5000"}}}
				url := n.Serve(t, "prometheus.test:9090", f)
				f.down.Store(true)
				a := promAnalysis(t, url, "minDuration: 100ms, maxDuration: 20s, consecutiveErrors: 3, onInconclusive: "+tc.policy)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
				defer cancel()
				v, err := Run(ctx, Options{Analysis: a, Tick: 50 * time.Millisecond, DialContext: n.DialContext, WatchOnly: true, Watch: time.Minute})
				require.NoError(t, err)
				assert.Equal(t, tc.want, v.Decision, v.Reason)
				assert.Contains(t, v.Reason, "the watch went blind after")
				assert.Contains(t, v.Reason, "server-errors: its source failed 3 times in a row")
				assert.Less(t, v.Watch, time.Minute, "it ends early, at the third failure")
			})
		})
	}
}
