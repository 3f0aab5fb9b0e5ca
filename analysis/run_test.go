package analysis

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
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

// inBubble runs f in a synctest bubble with a fresh in-memory network. Time is fake there: a
// handler's sleep is exactly the latency a probe measures, and the clock moves only when every
// goroutine waits, so the decisions and the moments they are taken at are the same on an idle
// laptop and on a machine busy with other work.
func inBubble(t *testing.T, f func(t *testing.T, n *memnet.Network)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) { f(t, memnet.New()) })
}

// serveApp serves the example app as host on n; a fixed seed makes its jitter and error rolls
// the same in every run.
func serveApp(t *testing.T, n *memnet.Network, host string, cfg app.Config) (*app.App, string) {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = int64(len(host))
	}
	a := app.New(cfg)
	return a, n.Serve(t, host+":80", a)
}

func jittered(ms int) app.Faults {
	return app.Faults{
		Latency: map[string]app.Duration{"/health": app.Duration(time.Duration(ms) * time.Millisecond)},
		Jitter:  map[string]app.Duration{"/health": app.Duration(time.Duration(ms) * time.Millisecond / 2)},
	}
}

// runAnalysis runs with both apps, on n, and collects events.
func runAnalysis(t *testing.T, n *memnet.Network, a *specs.Analysis, blue, green string, onEvent func(Event)) (*verdict.Verdict, []Event) {
	t.Helper()
	var mu sync.Mutex
	var events []Event
	// A bound on fake time: a run that never decides ends as interrupted, and the test fails.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	v, err := Run(ctx, Options{
		Analysis:    a,
		Envs:        map[string]string{"blue": blue, "green": green},
		Tick:        100 * time.Millisecond,
		DialContext: n.DialContext,
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
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{Faults: jittered(4), Seed: 1})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: jittered(4), Seed: 2})
		v, events := runAnalysis(t, n, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue, green, nil)
		assert.Equal(t, verdict.Promote, v.Decision, v.Reason)
		assert.Equal(t, verdict.ExitPass, v.ExitCode())
		assert.True(t, strings.HasPrefix(v.Reason, "both critical checks passed; green shown working: at least "), v.Reason)
		assert.Contains(t, v.Reason, "in every critical check (floor: 10, 50%)")
		assert.Equal(t, compare.Pass, checkState(v, "p95"))
		assert.GreaterOrEqual(t, v.Duration, time.Second, "never before minDuration")
		assert.Zero(t, v.Duration%(100*time.Millisecond), "decided at a tick: %s", v.Duration)
		assert.Equal(t, EventVerdict, events[len(events)-1].Kind)
	})
}

// TestIdenticalPromotesAtMinDuration: two environments answering in exactly 4ms pass every
// check well within minDuration, and the promote comes at minDuration to the tick — not before.
func TestIdenticalPromotesAtMinDuration(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		steady := app.Faults{Latency: map[string]app.Duration{"/health": app.Duration(4 * time.Millisecond)}}
		_, blue := serveApp(t, n, "blue.test", app.Config{Faults: steady})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: steady})
		var passedAt time.Duration // the first tick every check passed
		v, _ := runAnalysis(t, n, spec(t, "minDuration: 30s, maxDuration: 2m", ""), blue, green, func(e Event) {
			if e.Kind == EventTick && passedAt == 0 && checkStates(e.Checks) == "pass,pass" {
				passedAt = e.Elapsed
			}
		})
		require.Equal(t, verdict.Promote, v.Decision, v.Reason)
		assert.Positive(t, passedAt)
		assert.Less(t, passedAt, 30*time.Second, "the checks pass before minDuration")
		assert.Equal(t, 30*time.Second, v.Duration, "promoted at minDuration exactly")
		for _, c := range v.Checks {
			if c.Name == "p95" {
				assert.InDelta(t, 0.004, c.Candidate.Value, 1e-9, "the latency measured is the one served: %s", c.Reason)
				assert.InDelta(t, 0.004, c.Baseline.Value, 1e-9, "the latency measured is the one served: %s", c.Reason)
			}
		}
	})
}

func TestLatencyRegressionRollsBack(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{Faults: jittered(4)})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: jittered(8)})
		v, _ := runAnalysis(t, n, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue, green, nil)
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		assert.Equal(t, compare.Fail, checkState(v, "p95"))
		assert.Regexp(t, `^p95: p95 green \d+(\.\d+)?ms vs blue \d+(\.\d+)?ms: ratio \d\.\d\d \[>?\d\.\d\d, \d\.\d\d\] > 1\.20 allowed$`, v.Reason)
		assert.Equal(t, verdict.PhaseAnalysis, v.Phase)
		assert.Less(t, v.Duration, 40*time.Second, "decided before maxDuration")
		for _, c := range v.Checks {
			if c.Name == "p95" {
				// Fake time measures what was served: 4ms + [0, 2ms) and 8ms + [0, 4ms).
				assert.True(t, c.Baseline.Value >= 0.004 && c.Baseline.Value < 0.006, "blue p95 %v", c.Baseline.Value)
				assert.True(t, c.Candidate.Value >= 0.008 && c.Candidate.Value < 0.012, "green p95 %v", c.Candidate.Value)
			}
		}
	})
}

func TestErrorRegressionRollsBack(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 0.3}}})
		v, _ := runAnalysis(t, n, spec(t, "minDuration: 1s, maxDuration: 40s", ""), blue, green, nil)
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		assert.Equal(t, compare.Fail, checkState(v, "errors"))
		assert.Contains(t, v.Reason, "errors: error rate green")
	})
}

func TestSmokeFailureRollsBackWithoutMonitoring(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
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

		v, events := runAnalysis(t, n, a, blue, green, nil)
		require.Equal(t, verdict.Rollback, v.Decision)
		assert.Equal(t, verdict.PhaseSmoke, v.Phase)
		assert.Equal(t, "smoke failed on green: smoke › health: status (500) == 200", v.Reason)
		assert.Empty(t, v.Checks, "no monitoring after a failed smoke gate")
		for _, e := range events {
			assert.NotEqual(t, EventTick, e.Kind)
		}
		require.NotNil(t, v.Smoke)
		assert.Equal(t, "green", v.Smoke.Suites[0].Environment)
		assert.Zero(t, v.Duration, "the smoke gate takes no time when the app answers at once")
	})
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
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		// 20% of connections are cut; the client transparently retries some idempotent requests
		// on a fresh connection, so fewer than 20% of probes fail — but both sides fail alike.
		blue := n.Serve(t, "blue.test:80", flaky(app.New(app.Config{Faults: jittered(2), Seed: 1}), 0.2, 1))
		green := n.Serve(t, "green.test:80", flaky(app.New(app.Config{Faults: jittered(2), Seed: 2}), 0.2, 2))
		v, _ := runAnalysis(t, n, spec(t, "minDuration: 1s, maxDuration: 8s, onInconclusive: hold", ""), blue, green, nil)
		assert.NotEqual(t, verdict.Rollback, v.Decision, v.Reason)
		assert.NotEqual(t, compare.Fail, checkState(v, "errors"))
		for _, c := range v.Checks {
			if c.Name == "errors" {
				assert.Greater(t, c.Baseline.Value, 0.02, "the baseline did flap: %s", c.Reason)
				assert.Greater(t, c.Candidate.Value, 0.02, "the candidate did flap: %s", c.Reason)
			}
		}
	})
}

func TestNoDataNeverPromotes(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{})
		_, green := serveApp(t, n, "green.test", app.Config{})
		// A monitor that never fires within the analysis: no observations at all. (The bubble's
		// clock starts at midnight on 1 January 2000; noon that day is hours away.)
		a := spec(t, "minDuration: 1s, maxDuration: 2s, onInconclusive: promote", "")
		a.Monitors[0].Every, a.Monitors[0].Cron = 0, "0 12 1 1 *"
		v, _ := runAnalysis(t, n, a, blue, green, nil)
		assert.Equal(t, verdict.Inconclusive, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "no data for errors, p95 — never promote without evidence")
		assert.Equal(t, verdict.ExitInconclusive, v.ExitCode())
		assert.Equal(t, 2*time.Second, v.Duration, "undecided at maxDuration exactly")
	})
}

func TestMaxDurationMapsByPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   verdict.Decision
	}{{"hold", verdict.Inconclusive}, {"rollback", verdict.Rollback}, {"promote", verdict.Promote}} {
		t.Run(tc.policy, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				_, blue := serveApp(t, n, "blue.test", app.Config{Faults: jittered(4), Seed: 1})
				_, green := serveApp(t, n, "green.test", app.Config{Faults: jittered(4), Seed: 2})
				// 1.5 seconds of probes cannot show p95 within 20%: undecided at maxDuration.
				v, _ := runAnalysis(t, n, spec(t, "minDuration: 1s, maxDuration: 1500ms, onInconclusive: "+tc.policy, ""), blue, green, nil)
				assert.Equal(t, tc.want, v.Decision, v.Reason)
				assert.True(t, v.Undecided)
				assert.Contains(t, v.Reason, "inconclusive after 1.5s")
				assert.Contains(t, v.Reason, "(policy onInconclusive: "+tc.policy+")")
				assert.Equal(t, 1500*time.Millisecond, v.Duration)
			})
		})
	}
}

func TestWatchCatchesLateRegression(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue.test", app.Config{Faults: jittered(4), Seed: 1})
		greenApp, green := serveApp(t, n, "green.test", app.Config{Faults: jittered(4), Seed: 2})
		a := spec(t, "minDuration: 1s, maxDuration: 40s, watch: 40s", "")
		v, _ := runAnalysis(t, n, a, blue, green, func(e Event) {
			if e.Kind == EventPhase && e.Phase == verdict.PhaseWatch {
				greenApp.SetFaults(jittered(9))
			}
		})
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		assert.Equal(t, verdict.PhaseWatch, v.Phase)
		assert.True(t, strings.HasPrefix(v.Reason, "regression after promotion: p95: "), v.Reason)
		assert.Less(t, v.Watch, 40*time.Second, "caught before the watch's end")
	})
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

func TestBothDownNeverPromotes(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		// Every probe fails on both sides: the relative checks see no difference and would pass,
		// but nothing shows the candidate healthy.
		down := app.Faults{ErrorRate: map[string]float64{"/health": 1}}
		_, blue := serveApp(t, n, "blue.test", app.Config{Faults: down})
		_, green := serveApp(t, n, "green.test", app.Config{Faults: down})
		a := spec(t, "minDuration: 1s, maxDuration: 3s, onInconclusive: promote", "")
		a.Checks = a.Checks[:1] // the error-rate check alone
		v, _ := runAnalysis(t, n, a, blue, green, nil)
		assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "no evidence that green works (errors: green succeeded 0 of")
		require.NotNil(t, v.Checks[0].Evidence)
		assert.Equal(t, int64(0), *v.Checks[0].Evidence.Succeeded)
		assert.Positive(t, v.Checks[0].Evidence.Observed)
	})
}

// checkStates lists the checks' states, comma-separated, in order.
func checkStates(checks []verdict.CheckResult) string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = string(c.State)
	}
	return strings.Join(out, ",")
}
