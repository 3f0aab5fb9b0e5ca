package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/specs"
)

// One probe a second cannot bound a p95 within 20% in ten minutes: the start-of-run warning
// says so and says what would (a rate, a longer maxDuration, a looser limit). Ten probes a
// second can: no warning.
func TestFeasibilityWarnsAtLowRates(t *testing.T) {
	slow := spec(t, "minDuration: 1m, maxDuration: 10m", "")
	slow.Monitors[0].Every = specs.Duration(time.Second)
	w := Feasibility(slow)
	t.Log(w)
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "policy.maxDuration 10m0s")
	assert.Contains(t, w[0], "p95 at 1/s per environment")
	assert.Regexp(t, `probe \d+ times as often`, w[0])
	assert.Contains(t, w[0], "greenlight plan")

	fast := spec(t, "minDuration: 1m, maxDuration: 10m", "")
	fast.Monitors[0].Every = specs.Duration(100 * time.Millisecond)
	assert.Empty(t, Feasibility(fast))
}

// TestFeasibilityIsBounded: the start-of-run check simulates analyses up to feasibilityHorizon
// long, so that starting one — or hundreds, in a daemon — never runs a simulation of hours.
func TestFeasibilityIsBounded(t *testing.T) {
	long := spec(t, "minDuration: 1m, maxDuration: 48h", "")
	long.Monitors[0].Every = specs.Duration(time.Second)
	assert.Empty(t, Feasibility(long), "no start-of-run simulation past %s", feasibilityHorizon)
	p, err := Compile(Options{Analysis: long, Envs: map[string]string{"blue": "http://blue.test", "green": "http://green.test"}})
	require.NoError(t, err)
	assert.Empty(t, p.Warnings())
}

func TestMakePlan(t *testing.T) {
	a := spec(t, "minDuration: 30s, maxDuration: 10m", "")
	a.Monitors[0].Every = specs.Duration(100 * time.Millisecond)
	p, err := MakeForecast(a, ForecastOptions{Runs: 40, Seed: 1})
	require.NoError(t, err)
	require.Len(t, p.Checks, 2)
	for _, c := range p.Checks {
		assert.InDelta(t, 10, c.Rate, 1e-9, c.Check)
		assert.InDelta(t, 0.005, c.Alpha, 1e-12, "two critical checks share 1%%")
		assert.Greater(t, c.Healthy.Promote, 0.9, "%s: %+v", c.Check, c.Healthy)
		assert.Equal(t, 0.0, c.Healthy.Rollback, c.Check)
		assert.Equal(t, 1.0, c.Regress.Rollback, "%s: %+v", c.Check, c.Regress)
		assert.Greater(t, c.Regress.RollbackHalf, time.Duration(0))
		assert.Less(t, c.Regress.RollbackHalf, time.Minute, c.Check)
	}
	require.Len(t, p.Analysis, 3, "healthy, then each critical check's regression")
	assert.GreaterOrEqual(t, p.Analysis[0].PromoteHalf, 30*time.Second, "never before minDuration")
	assert.True(t, strings.HasPrefix(p.Analysis[2].Scenario, "p95: latency ×2"), p.Analysis[2].Scenario)

	// A source check is simulated only with its traffic given.
	assert.Empty(t, p.NotSimulated)
}
