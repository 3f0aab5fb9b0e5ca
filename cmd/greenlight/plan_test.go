package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

func TestPlan(t *testing.T) {
	p := writeAnalysis(t, fastAnalysis)
	code, out, errOut := cli(t, "plan", p, "--runs", "20", "--rate", "probe=20")
	require.Equal(t, verdict.ExitPass, code, errOut)
	for _, want := range []string{
		"plan for analysis fast: 20 simulated analyses per scenario, until maxDuration 30s (minDuration 1s)",
		"check errors (errorRate, critical) at 20/s per environment, false-rollback budget 0.5%",
		"check p95 (latency, critical) at 20/s per environment",
		"identical:", "errors 0% → 10%:", "latency ×2:",
		"the analysis (critical checks together):", "p95: latency ×2:",
	} {
		assert.Contains(t, out, want)
	}

	code, out, errOut = cli(t, "plan", p, "--runs", "5", "-o", "json")
	require.Equal(t, verdict.ExitPass, code, errOut)
	var plan struct {
		Checks []struct {
			Check string
			Rate  float64
		}
		Analysis []struct{ Scenario string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plan))
	require.Len(t, plan.Checks, 2)
	assert.InDelta(t, 100, plan.Checks[0].Rate, 1e-9, "the monitor's own rate: every 10ms")
	assert.Len(t, plan.Analysis, 3)
	assert.Empty(t, goCasedKeys(t, []byte(out)), "the plan's keys are lower camel case")
	assert.Contains(t, out, `"promoteHalfMs"`)
}

func TestPlanInvalidInput(t *testing.T) {
	p := writeAnalysis(t, fastAnalysis)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "probe"}, `--rate "probe": want NAME=N`},
		{[]string{"--rate", "probe=-1"}, `--rate "probe=-1"`},
		{[]string{"--rate", "nothing=5"}, `--rate nothing: no monitor or check "nothing" in analysis "fast"`},
		{[]string{"--errors", "200%"}, `--errors "200%": want a percentage`},
		{[]string{"--runs", "0"}, "--runs 0: want 1 to 100000"},
		{[]string{"-o", "yaml"}, `--output "yaml": want text or json`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := cli(t, append([]string{"plan", p}, tc.args...)...)
			assert.Equal(t, verdict.ExitInvalid, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// validate still accepts a histogram check its buckets cannot decide, and says so.
func TestValidateWarnsOnClassicBuckets(t *testing.T) {
	p := writeAnalysis(t, `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: hist}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://prometheus:9090"}
checks:
  - name: server-p95
    latency:
      percentile: 95
      prometheus: {buckets: 'sum by (le) (increase(http_request_duration_seconds_bucket{color="{{ .env.name }}"}[{{ .window }}]))'}
      maxRatio: 1.2
policy: {evidence: {minSuccesses: 0}}
`)
	code, out, errOut := cli(t, "validate", p)
	assert.Equal(t, verdict.ExitPass, code, errOut)
	assert.Equal(t, "0 suites, 0 steps, 1 analysis: valid\n", out)
	assert.Contains(t, errOut, "warning: "+p+`:10:5: check "server-p95" bounds its p95 by the edges of classic le buckets`)
}

// plan simulates and sends nothing, so it needs no secret: an analysis whose suites declare one
// that is not set is planned as it is validated.
func TestPlanNeedsNoSecrets(t *testing.T) {
	const unset = "GL_TEST_PLAN_SMOKE_PASS"
	t.Setenv(unset, "")
	require.NoError(t, os.Unsetenv(unset))
	p := writeAnalysis(t, `apiVersion: greenlight/v1
kind: Suite
metadata: {name: journey}
secrets: {password: {env: `+unset+`}}
steps:
  - {name: login, http: {method: POST, url: /auth/login, json: {password: "{{ secret `+"`password`"+` }}"}}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [journey]
monitors: [{name: m, every: 100ms, suite: journey}]
checks: [{name: e, errorRate: {from: m, maxIncrease: 1%}}]
policy: {maxDuration: 30s}
`)
	code, out, errOut := cli(t, "plan", p, "--runs", "5")
	require.Equal(t, verdict.ExitPass, code, errOut)
	assert.Contains(t, out, "plan for analysis a: 5 simulated analyses per scenario")
	assert.NotContains(t, errOut, unset)
}
