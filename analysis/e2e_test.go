package analysis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// The tests of run_test.go decide on a fake clock. These run the engine against real servers on
// loopback, where a loaded machine stretches every latency measured and shrinks the difference
// between two environments: so they assert only what must hold under any load — never a wrong
// verdict — and accept inconclusive, which load can cause. They take seconds of real time:
// -short leaves them to the full run.

func startReal(t *testing.T, cfg app.Config) string {
	t.Helper()
	srv, err := app.Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv.URL
}

func runReal(t *testing.T, a *specs.Analysis, blue, green string) *verdict.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	v, err := Run(ctx, Options{Analysis: a, Envs: map[string]string{"blue": blue, "green": green}, Tick: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Logf("%s after %s: %s", v.Decision, v.Duration, v.Reason)
	return v
}

func TestRealServersNeverAWrongVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("real servers; full run")
	}
	// hold: an analysis that load keeps undecided ends inconclusive, not in a policy's rollback.
	policy := "minDuration: 1s, maxDuration: 20s, onInconclusive: hold, falseRollbackRate: 0.1%"
	t.Run("a 3x slower green is never promoted", func(t *testing.T) {
		blue, green := startReal(t, app.Config{Faults: jittered(10)}), startReal(t, app.Config{Faults: jittered(30)})
		v := runReal(t, spec(t, policy, ""), blue, green)
		assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		if v.Decision == verdict.Rollback {
			assert.Equal(t, compare.Fail, checkState(v, "p95"), v.Reason)
			assert.True(t, strings.HasPrefix(v.Reason, "p95: p95 green "), v.Reason)
		}
	})
	t.Run("identical environments are never rolled back", func(t *testing.T) {
		blue, green := startReal(t, app.Config{Faults: jittered(4)}), startReal(t, app.Config{Faults: jittered(4)})
		v := runReal(t, spec(t, policy, ""), blue, green)
		assert.NotEqual(t, verdict.Rollback, v.Decision, v.Reason)
		if v.Decision == verdict.Promote {
			assert.GreaterOrEqual(t, v.Duration, time.Second, "never before minDuration")
			assert.True(t, strings.HasPrefix(v.Reason, "both critical checks passed; green shown working: "), v.Reason)
		}
	})
	t.Run("a failing green is never promoted", func(t *testing.T) {
		blue := startReal(t, app.Config{})
		green := startReal(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 0.3}}})
		v := runReal(t, spec(t, policy, ""), blue, green)
		assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		if v.Decision == verdict.Rollback {
			assert.Contains(t, v.Reason, "errors: error rate green", v.Reason)
		}
	})
}
