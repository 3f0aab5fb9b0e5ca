package analysis

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/verdict"
)

// TestUnreachableEnvironmentIsNamed: an environment nothing listens on is named as unreachable
// with the reason and the count, while the analysis runs and in the verdict — never a bare "no
// data" at the time limit.
func TestUnreachableEnvironmentIsNamed(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		testUnreachableEnvironmentIsNamed(t, n)
	})
}

func testUnreachableEnvironmentIsNamed(t *testing.T, n *memnet.Network) {
	_, green := serveApp(t, n, "green", app.Config{})
	closed := "http://blue:80" // nothing listens there

	a := spec(t, "minDuration: 1s, maxDuration: 2s, onInconclusive: hold", "")
	var ticks []Event
	v, _ := runAnalysis(t, n, a, closed, green, func(e Event) {
		if e.Kind == EventTick {
			ticks = append(ticks, e)
		}
	})
	assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
	require.Len(t, v.Diagnosis, 1, v.Reason)
	want := regexp.MustCompile(`^blue unreachable: connection refused, (\d+) of (\d+) probes$`)
	m := want.FindStringSubmatch(v.Diagnosis[0])
	require.NotNil(t, m, v.Diagnosis[0])
	assert.Equal(t, m[1], m[2], "every probe of blue failed to connect")
	assert.Equal(t, "blue unreachable: connection refused, 200 of 200 probes", v.Diagnosis[0], "a probe every 10ms for 2s, in fake time")
	assert.Contains(t, v.Reason, "blue unreachable: connection refused")
	assert.NotContains(t, strings.ToLower(v.Reason), "nan")

	var seen bool
	for _, e := range ticks {
		for _, d := range e.Diagnosis {
			seen = seen || strings.HasPrefix(d, "blue unreachable: connection refused")
		}
	}
	assert.True(t, seen, "the diagnosis reaches the progress events")

	var out strings.Builder
	verdict.NewTextWriter(&out, verdict.TextOptions{}).Verdict(v)
	assert.Contains(t, out.String(), "diagnosis: "+v.Diagnosis[0])
	assert.NotContains(t, out.String(), "NaN")
}

// TestBaselineDownNeverPromotes: a baseline no probe reaches (a wrong URL, colours swapped, the
// old version torn down) leaves nothing to compare the candidate with. Its failures are not
// counted against it — they would make any working candidate look better — and after 30 s of
// it the analysis ends without a promote, saying why.
func TestBaselineDownNeverPromotes(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   verdict.Decision
	}{{"hold", verdict.Inconclusive}, {"promote", verdict.Inconclusive}, {"rollback", verdict.Rollback}} {
		t.Run(tc.policy, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				_, green := serveApp(t, n, "green", app.Config{Faults: jittered(4), Seed: 2})
				a := spec(t, "minDuration: 1s, maxDuration: 5m, onInconclusive: "+tc.policy, "")
				v, _ := runAnalysis(t, n, a, "http://blue:80", green, nil)
				assert.Equal(t, tc.want, v.Decision, v.Reason)
				assert.Contains(t, v.Reason, "blue (baseline) unreachable at every probe for 30s (blue unreachable: connection refused")
				assert.Contains(t, v.Reason, "nothing to compare green with")
				for _, c := range v.Checks {
					assert.NotEqual(t, compare.Pass, c.State, "%s: a comparison with no baseline", c.Name)
				}
			})
		})
	}
}

// TestBaselineBackInTimeIsCompared: a baseline down for a while (a restart) and then back is
// compared from then on; the analysis decides as usual.
func TestBaselineBackInTimeIsCompared(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, green := serveApp(t, n, "green", app.Config{Faults: jittered(4), Seed: 2})
		go func() {
			time.Sleep(20 * time.Second)
			serveApp(t, n, "blue", app.Config{Faults: jittered(4), Seed: 1})
		}()
		a := spec(t, "minDuration: 1s, maxDuration: 5m, onInconclusive: hold", "")
		v, _ := runAnalysis(t, n, a, "http://blue:80", green, nil)
		assert.Equal(t, verdict.Promote, v.Decision, v.Reason)
	})
}

// TestWatchSaysWhatItDidNotClear: a watch that ends with no regression, while a critical check
// neither failed nor passed in it, promotes and says which one it could not clear.
func TestWatchSaysWhatItDidNotClear(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		_, blue := serveApp(t, n, "blue", app.Config{Faults: jittered(4), Seed: 1})
		_, green := serveApp(t, n, "green", app.Config{Faults: jittered(4), Seed: 2})
		a := spec(t, "minDuration: 1s, maxDuration: 5m, onInconclusive: hold", "")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		// Two seconds of probes every 10ms: too few for the 5% error check to pass.
		v, err := Run(ctx, Options{Analysis: a, Envs: map[string]string{"blue": blue, "green": green}, Tick: 100 * time.Millisecond,
			DialContext: n.DialContext, WatchOnly: true, Watch: 2 * time.Second})
		require.NoError(t, err)
		require.Equal(t, verdict.Promote, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "no regression in 2s of watching (not cleared in the watch: errors inconclusive")
	})
}
