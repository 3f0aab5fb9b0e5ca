package analysis

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// spec builds a fast analysis: a journey monitor every 10ms, checks on errors and p95, short
// durations. extra is appended to the document (policy, smoke, more monitors).
func spec(t *testing.T, policy string, extra string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: probe}
steps:
  - name: profile
    http: {url: /health}
    expect: [status == 200]
---
apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200, json.status == "ok"]
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: test}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: journey, suite: probe, every: 10ms, rateLimit: 1000}
checks:
  - name: errors
    errorRate: {from: journey, maxIncrease: 5%}
  - name: p95
    latency: {from: journey, step: profile, percentile: 95, maxRatio: 1.2}
policy: {` + policy + `}
` + extra
	docs, err := specs.Parse("t.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	require.NoError(t, docs.Link(specs.LoadOptions{}))
	return docs.Analysis("test")
}

func start(t *testing.T, cfg app.Config) *app.Server {
	t.Helper()
	srv, err := app.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func jittered(ms int) app.Faults {
	return app.Faults{
		Latency: map[string]app.Duration{"/health": app.Duration(time.Duration(ms) * time.Millisecond)},
		Jitter:  map[string]app.Duration{"/health": app.Duration(time.Duration(ms) * time.Millisecond / 2)},
	}
}

// runAnalysis runs with both apps and collects events.
func runAnalysis(t *testing.T, a *specs.Analysis, blue, green string, onEvent func(Event)) (*verdict.Verdict, []Event) {
	t.Helper()
	var mu sync.Mutex
	var events []Event
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v, err := Run(ctx, Options{
		Analysis: a,
		Envs:     map[string]string{"blue": blue, "green": green},
		Tick:     100 * time.Millisecond,
		OnEvent: func(e Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
			if onEvent != nil {
				onEvent(e)
			}
		},
	})
	require.NoError(t, err)
	return v, events
}

func checkState(v *verdict.Verdict, name string) compare.State {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.State
		}
	}
	return ""
}

func TestIdenticalPromotes(t *testing.T) {
	blue, green := start(t, app.Config{Faults: jittered(4)}), start(t, app.Config{Faults: jittered(4)})
	v, events := runAnalysis(t, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue.URL, green.URL, nil)
	assert.Equal(t, verdict.Promote, v.Decision, v.Reason)
	assert.Equal(t, verdict.ExitPass, v.ExitCode())
	assert.True(t, strings.HasPrefix(v.Reason, "all 2 critical checks passed; green shown working: at least "), v.Reason)
	assert.Contains(t, v.Reason, "in every critical check (floor: 10, 50%)")
	assert.Equal(t, compare.Pass, checkState(v, "p95"))
	assert.GreaterOrEqual(t, v.Duration, time.Second, "never before minDuration")
	assert.Equal(t, EventVerdict, events[len(events)-1].Kind)
}

func TestLatencyRegressionRollsBack(t *testing.T) {
	blue, green := start(t, app.Config{Faults: jittered(4)}), start(t, app.Config{Faults: jittered(8)})
	v, _ := runAnalysis(t, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue.URL, green.URL, nil)
	require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
	assert.Equal(t, compare.Fail, checkState(v, "p95"))
	assert.Regexp(t, `^p95: p95 green \d+(\.\d+)?ms vs blue \d+(\.\d+)?ms: ratio \d\.\d\d \[>?\d\.\d\d, \d\.\d\d\] > 1\.20 allowed$`, v.Reason)
	assert.Equal(t, verdict.PhaseAnalysis, v.Phase)
}

func TestErrorRegressionRollsBack(t *testing.T) {
	blue := start(t, app.Config{})
	green := start(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 0.3}}})
	v, _ := runAnalysis(t, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue.URL, green.URL, nil)
	require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
	assert.Equal(t, compare.Fail, checkState(v, "errors"))
	assert.Contains(t, v.Reason, "errors: error rate green")
}

func TestSmokeFailureRollsBackWithoutMonitoring(t *testing.T) {
	blue := start(t, app.Config{})
	green := start(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
	a := spec(t, "minDuration: 1s, maxDuration: 40s", "")
	a.Smoke = []specs.SuiteRef{{Ref: "smoke"}}
	// Link again so the smoke suite resolves.
	docs := &specs.Documents{Suites: []*specs.Suite{a.Monitor("journey").Resolved}, Analyses: []*specs.Analysis{a}}
	smokeDocs, err := specs.Parse("s.yaml", []byte(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200]
`), specs.LoadOptions{})
	require.NoError(t, err)
	docs.Suites = append(docs.Suites, smokeDocs.Suites...)
	require.NoError(t, docs.Link(specs.LoadOptions{}))

	v, events := runAnalysis(t, a, blue.URL, green.URL, nil)
	require.Equal(t, verdict.Rollback, v.Decision)
	assert.Equal(t, verdict.PhaseSmoke, v.Phase)
	assert.Equal(t, "smoke failed on green: smoke › health: status (500) == 200", v.Reason)
	assert.Empty(t, v.Checks, "no monitoring after a failed smoke gate")
	for _, e := range events {
		assert.NotEqual(t, EventTick, e.Kind)
	}
	require.NotNil(t, v.Smoke)
	assert.Equal(t, "green", v.Smoke.Suites[0].Environment)
}

// flaky drops a fraction of requests by closing the connection without an answer, the way a
// flapping pod or a refused connection looks to a client.
func flaky(h http.Handler, p float64, seed uint64) http.Handler {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := rng.Float64() < p
		mu.Unlock()
		if drop {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

func TestBothFlappingEquallyIsNoRegression(t *testing.T) {
	// 20% of connections are cut; the client transparently retries some idempotent requests on
	// a fresh connection, so fewer than 20% of probes fail — but both sides fail alike.
	blueSrv := startHandler(t, flaky(app.New(app.Config{Faults: jittered(2)}), 0.2, 1))
	greenSrv := startHandler(t, flaky(app.New(app.Config{Faults: jittered(2)}), 0.2, 2))
	v, _ := runAnalysis(t, spec(t, "minDuration: 1s, maxDuration: 8s, onInconclusive: hold", ""), blueSrv, greenSrv, nil)
	assert.NotEqual(t, verdict.Rollback, v.Decision, v.Reason)
	assert.NotEqual(t, compare.Fail, checkState(v, "errors"))
	for _, c := range v.Checks {
		if c.Name == "errors" {
			assert.Greater(t, c.Baseline.Value, 0.02, "the baseline did flap: %s", c.Reason)
			assert.Greater(t, c.Candidate.Value, 0.02, "the candidate did flap: %s", c.Reason)
		}
	}
}

func TestNoDataNeverPromotes(t *testing.T) {
	blue, green := start(t, app.Config{}), start(t, app.Config{})
	// A monitor that never fires within the analysis: no observations at all.
	a := spec(t, "minDuration: 1s, maxDuration: 2s, onInconclusive: promote", "")
	a.Monitors[0].Every, a.Monitors[0].Cron = 0, "0 0 1 1 *"
	v, _ := runAnalysis(t, a, blue.URL, green.URL, nil)
	assert.Equal(t, verdict.Inconclusive, v.Decision, v.Reason)
	assert.Contains(t, v.Reason, "no data for errors, p95 — never promote without evidence")
	assert.Equal(t, verdict.ExitInconclusive, v.ExitCode())
}

func TestMaxDurationMapsByPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   verdict.Decision
	}{{"hold", verdict.Inconclusive}, {"rollback", verdict.Rollback}, {"promote", verdict.Promote}} {
		t.Run(tc.policy, func(t *testing.T) {
			blue, green := start(t, app.Config{Faults: jittered(4)}), start(t, app.Config{Faults: jittered(4)})
			// Two seconds of probes cannot show p95 within 20%: undecided at maxDuration.
			v, _ := runAnalysis(t, spec(t, "minDuration: 1s, maxDuration: 1500ms, onInconclusive: "+tc.policy, ""), blue.URL, green.URL, nil)
			assert.Equal(t, tc.want, v.Decision, v.Reason)
			assert.True(t, v.Undecided)
			assert.Contains(t, v.Reason, "inconclusive after 1.5s")
			assert.Contains(t, v.Reason, "(policy onInconclusive: "+tc.policy+")")
		})
	}
}

func TestWatchCatchesLateRegression(t *testing.T) {
	blue := start(t, app.Config{Faults: jittered(4)})
	green := start(t, app.Config{Faults: jittered(4)})
	a := spec(t, "minDuration: 1s, maxDuration: 40s, watch: 40s", "")
	var once sync.Once
	v, _ := runAnalysis(t, a, blue.URL, green.URL, func(e Event) {
		if e.Kind == EventPhase && e.Phase == verdict.PhaseWatch {
			once.Do(func() { green.App.SetFaults(jittered(9)) })
		}
	})
	require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
	assert.Equal(t, verdict.PhaseWatch, v.Phase)
	assert.True(t, strings.HasPrefix(v.Reason, "regression after promotion: p95: "), v.Reason)
}

func TestInvalidTargets(t *testing.T) {
	a := spec(t, "", "")
	_, err := Run(context.Background(), Options{Analysis: a, Envs: map[string]string{"blue": "http://127.0.0.1:1"}})
	assert.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, `invalid analysis input: environment "green" (candidate) has no URL: set it in the spec or give --env green=URL`)
	_, err = Run(context.Background(), Options{Analysis: a, Envs: map[string]string{"blue": "http://a", "green": "ftp://b"}})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = Run(context.Background(), Options{Analysis: a, Candidate: "purple", Envs: map[string]string{"blue": "http://a", "green": "http://b"}})
	assert.EqualError(t, err, `invalid analysis input: candidate "purple" is not an environment (have blue, green)`)
}

func startHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBothDownNeverPromotes(t *testing.T) {
	// Every probe fails on both sides: the relative checks see no difference and would pass,
	// but nothing shows the candidate healthy.
	down := app.Faults{ErrorRate: map[string]float64{"/health": 1}}
	blue, green := start(t, app.Config{Faults: down}), start(t, app.Config{Faults: down})
	a := spec(t, "minDuration: 1s, maxDuration: 3s, onInconclusive: promote", "")
	a.Checks = a.Checks[:1] // the error-rate check alone
	v, _ := runAnalysis(t, a, blue.URL, green.URL, nil)
	assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
	assert.Contains(t, v.Reason, "no evidence that green works (errors: green succeeded 0 of")
	require.NotNil(t, v.Checks[0].Evidence)
	assert.Equal(t, int64(0), *v.Checks[0].Evidence.Succeeded)
	assert.Positive(t, v.Checks[0].Evidence.Observed)
}
