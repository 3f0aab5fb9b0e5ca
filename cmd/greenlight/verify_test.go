package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/verdict"
)

// fastAnalysis is a quick analysis over the example app's /health endpoint.
const fastAnalysis = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: fast}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [smoke]
monitors:
  - name: probe
    every: 10ms
    rateLimit: 1000
    step: {http: {url: /health}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
  - {name: p95, latency: {from: probe, percentile: 95, maxRatio: 1.2}}
policy: {minDuration: 1s, maxDuration: 30s}
`

func writeAnalysis(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "analysis.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func jitter(ms int) app.Faults {
	d := app.Duration(time.Duration(ms) * time.Millisecond)
	return app.Faults{Latency: map[string]app.Duration{"/health": d}, Jitter: map[string]app.Duration{"/health": d / 2}}
}

// inBubble runs f in a synctest bubble with a fresh in-memory network: the example apps it
// serves answer in exactly the latency their faults set, on a fake clock, so the verdicts of
// verify do not depend on how busy the machine is.
func inBubble(t *testing.T, f func(t *testing.T, n *memnet.Network)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) { f(t, memnet.New()) })
}

// serveApp serves the example app as host on n, with a seed so that its jitter is the same in
// every run.
func serveApp(t *testing.T, n *memnet.Network, host string, cfg app.Config) string {
	t.Helper()
	cfg.Seed = int64(len(host))
	return n.Serve(t, host+":80", app.New(cfg))
}

// cliOn runs the command line in-process with n as its network and returns exit code, stdout
// and stderr.
func cliOn(t *testing.T, n *memnet.Network, args ...string) (verdict.ExitCode, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.WithValue(t.Context(), networkKey{}, network(n)), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVerifyPromoteWithReports(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue, green := serveApp(t, n, "blue.test", app.Config{Faults: jitter(4)}), serveApp(t, n, "green.test", app.Config{Faults: jitter(4)})
		dir := t.TempDir()
		junit, js, md := filepath.Join(dir, "v.xml"), filepath.Join(dir, "v.json"), filepath.Join(dir, "v.md")
		code, out, errOut := cliOn(t, n, "verify", writeAnalysis(t, fastAnalysis), "--env", "blue="+blue, "--env", "green="+green,
			"--report", "junit="+junit, "--report", "json="+js, "--report", "markdown="+md)
		require.Equal(t, verdict.ExitPass, code, out+errOut)
		assert.Contains(t, out, "✓ PROMOTE fast — green (candidate) vs blue (baseline)")
		assert.Contains(t, out, "[smoke] smoke-testing green")

		var v map[string]any
		require.NoError(t, json.Unmarshal(readFile(t, js), &v))
		assert.Equal(t, "promote", v["verdict"])
		assert.Equal(t, float64(0), v["exitCode"])
		assert.Len(t, v["checks"], 2)

		var doc struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Suites   []struct {
				Name string `xml:"name,attr"`
			} `xml:"testsuite"`
		}
		require.NoError(t, xml.Unmarshal(readFile(t, junit), &doc))
		assert.Equal(t, 0, doc.Failures)
		assert.Equal(t, 3, doc.Tests, "one smoke step and two checks")
		assert.Equal(t, "analysis fast [green vs blue]", doc.Suites[len(doc.Suites)-1].Name)

		m := string(readFile(t, md))
		assert.Contains(t, m, "### ✅ greenlight: promote — fast")
		assert.Contains(t, m, "| p95 | ✅ pass |")
		assert.Contains(t, m, "#### Smoke gate")
	})
}

func TestVerifyRollbackJSON(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue := serveApp(t, n, "blue.test", app.Config{Faults: jitter(4)})
		green := serveApp(t, n, "green.test", app.Config{Faults: jitter(10)})
		code, out, errOut := cliOn(t, n, "verify", writeAnalysis(t, fastAnalysis), "--env", "blue="+blue, "--env", "green="+green, "-o", "json")
		require.Equal(t, verdict.ExitFail, code, out+errOut)
		var v struct {
			Verdict string `json:"verdict"`
			Reason  string `json:"reason"`
			Checks  []struct {
				Name  string `json:"name"`
				State string `json:"state"`
				Ratio struct {
					Lower float64 `json:"lower"`
				} `json:"ratio"`
			} `json:"checks"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v), "-o json prints only the verdict: %s", out)
		assert.Equal(t, "rollback", v.Verdict)
		assert.True(t, strings.HasPrefix(v.Reason, "p95: p95 green"), v.Reason)
		assert.Equal(t, "fail", v.Checks[1].State)
		assert.Greater(t, v.Checks[1].Ratio.Lower, 1.2)
		assert.Empty(t, goCasedKeys(t, []byte(out)), "the spec's keys (maxRatio), not Go's")
		assert.Contains(t, out, `"maxRatio": 1.2`)
	})
}

func TestVerifyRolesSwap(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		// Colours swap every release: the same analysis judges blue when blue is the candidate.
		slow := serveApp(t, n, "slow.test", app.Config{Faults: jitter(10)})
		fast := serveApp(t, n, "fast.test", app.Config{Faults: jitter(4)})
		code, out, _ := cliOn(t, n, "verify", writeAnalysis(t, fastAnalysis), "--env", "blue="+slow, "--env", "green="+fast,
			"--baseline", "green", "--candidate", "blue")
		assert.Equal(t, verdict.ExitFail, code)
		assert.Contains(t, out, "blue (candidate) vs green (baseline)")
		assert.Contains(t, out, "why: p95: p95 blue ")
	})
}

func TestVerifyInvalidInput(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	p := writeAnalysis(t, fastAnalysis)
	two := writeAnalysis(t, fastAnalysis+"---\n"+strings.Replace(fastAnalysis[strings.Index(fastAnalysis, "apiVersion: greenlight/v1\nkind: Analysis"):], "name: fast", "name: other", 1))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing URL", []string{"verify", p, "--env", "blue=http://127.0.0.1:1"}, `environment "green" (candidate) has no URL: set it in the spec or give --env green=URL`},
		{"bad env flag", []string{"verify", p, "--env", "green"}, "want NAME=URL"},
		{"no analysis", []string{"verify", "../../examples/suites"}, "no kind: Analysis document"},
		{"two analyses", []string{"verify", two, "--env", "blue=http://a", "--env", "green=http://b"}, "hold 2 analyses (fast, other): choose one with --analysis"},
		{"unknown analysis", []string{"verify", p, "--analysis", "nope"}, `no analysis named "nope"`},
		{"same roles", []string{"verify", p, "--env", "blue=http://a", "--env", "green=http://b", "--candidate", "blue"}, `baseline and candidate are both "blue"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, verdict.ExitInvalid, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// TestVerifyServesMetrics scrapes --metrics-addr while the analysis runs: once green has
// answered its 20th probe and everything in flight has settled, the probe metrics are there.
func TestVerifyServesMetrics(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue := serveApp(t, n, "blue.test", app.Config{Faults: jitter(2)})
		probed := make(chan struct{})
		var probes atomic.Int64
		greenApp := app.New(app.Config{Faults: jitter(2), Seed: 2})
		green := n.Serve(t, "green.test:80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			greenApp.ServeHTTP(w, r)
			if probes.Add(1) == 20 {
				close(probed)
			}
		}))
		const addr = "127.0.0.1:9464"
		var body string
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-probed
			synctest.Wait() // the 20th probe's pair is recorded
			resp, err := n.Client().Get("http://" + addr + "/metrics")
			if !assert.NoError(t, err) {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}()
		code, out, errOut := cliOn(t, n, "verify", writeAnalysis(t, fastAnalysis), "--env", "blue="+blue, "--env", "green="+green, "--metrics-addr", addr)
		<-done
		require.Equal(t, verdict.ExitPass, code, out+errOut)
		assert.Regexp(t, `greenlight_probe_total\{environment="green",monitor="probe",result="success",role="candidate"\} \d+`, body)
		assert.Contains(t, body, "greenlight_probe_duration_seconds_bucket")
	})
}

// TestBundledAnalysisCatchesTheDemoRegression runs the bundled checkout analysis, as the demo
// does, against the demo's regressed green — its profile three times slower, 3% of its orders
// failing — on a fake clock, so that -short covers the demo's decision that TestDemo checks on
// real servers in the full run. No app exports spans here, so the trace checks stay undecided;
// the probes alone must roll green back.
func TestBundledAnalysisCatchesTheDemoRegression(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blueFaults, greenFaults, _ := demoFaults(false)
		store := app.NewStore()
		blue := n.Serve(t, "blue.test:80", app.New(app.Config{Color: "blue", Version: "v1", Store: store, Faults: blueFaults, Seed: 2}))
		green := n.Serve(t, "green.test:80", app.New(app.Config{Color: "green", Version: "v2", Store: store, Faults: greenFaults, Seed: 1}))
		code, out, errOut := cliOn(t, n, "verify", "../../examples/analyses", "../../examples/suites", "--env", "blue="+blue, "--env", "green="+green)
		require.Equal(t, verdict.ExitFail, code, out+errOut)
		assert.Contains(t, out, "✓ health", "the smoke gate passed")
		assert.Contains(t, out, "✗ ROLLBACK checkout — green (candidate) vs blue (baseline)")
		// On the fake clock the run is the same every time: the profile's median is measured as
		// it was served, (60+30u)ms against (20+10u)ms — ×3 — and decides it.
		assert.Contains(t, out, "why: profile-p50: p50 green 7")
		assert.Regexp(t, `profile-p50\s+fail\s+7\dms\s+2\dms\s+×(2\.9|3\.0)\d`, out)
		assert.NotContains(t, out, "policy onInconclusive", "a check decided it, not the time limit")
		assert.NotContains(t, out, "testpass", "the login password is a secret")
	})
}
