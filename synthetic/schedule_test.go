package synthetic_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunSkipsOverlappingRuns(t *testing.T) {
	t.Parallel()
	inBubble(t, testRunSkipsOverlappingRuns)
}

func testRunSkipsOverlappingRuns(t *testing.T, n *memnet.Network) {
	blue, green := startCounted(t, n, "blue.test", app.Faults{}), startCounted(t, n, "green.test", app.Faults{})
	var stats synthetic.Stats
	opts := options(n, blue.URL, green.URL)
	opts.Stats = &stats
	mon := synthetic.Monitor{Name: "slow", Every: 50 * time.Millisecond, Suite: parseSuite(t, `
steps:
  - name: slow
    http: {url: "/slow?ms=300"}
    expect: [status == 200]
`)}
	pairs := runFor(t, time.Second, []synthetic.Monitor{mon}, opts)
	st := stats.Monitor("slow")
	t.Logf("stats %+v", st)
	assert.Positive(t, st.SkippedOverlap, "runs due while one is in flight are skipped")
	assert.Zero(t, st.SkippedRateLimit)
	assert.Equal(t, int64(len(pairs)), st.Completed)
	assert.Equal(t, st.Started, st.Completed+st.Panics+st.Interrupted)
	for _, srv := range []*counted{blue, green} {
		assert.Equal(t, int64(1), srv.maxInFlight.Load(), "never two runs of a monitor in flight")
		// One request per run started, none queued (a run started as ctx ends may send none).
		assert.LessOrEqual(t, srv.requests.Load(), st.Started)
		assert.GreaterOrEqual(t, srv.requests.Load(), st.Completed)
	}
}

func TestRunRateCap(t *testing.T) {
	t.Parallel()
	inBubble(t, testRunRateCap)
}

func testRunRateCap(t *testing.T, n *memnet.Network) {
	blue, green := startCounted(t, n, "blue.test", app.Faults{}), startCounted(t, n, "green.test", app.Faults{})
	var stats synthetic.Stats
	opts := options(n, blue.URL, green.URL)
	opts.Stats = &stats
	var steps strings.Builder
	steps.WriteString("steps:\n")
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		steps.WriteString("  - {name: " + name + ", http: {url: /health}, expect: [status == 200]}\n")
	}
	mon := synthetic.Monitor{Name: "busy", Suite: parseSuite(t, steps.String()), Every: 10 * time.Millisecond, RateLimit: 50}
	const seconds = 2
	pairs := runFor(t, seconds*time.Second, []synthetic.Monitor{mon}, opts)
	st := stats.Monitor("busy")
	t.Logf("stats %+v; requests blue %d, green %d", st, blue.requests.Load(), green.requests.Load())
	assert.Positive(t, st.SkippedRateLimit, "a schedule asking for 500 requests/s is capped at 50")
	assert.Equal(t, int64(len(pairs)), st.Completed)
	for _, srv := range []*counted{blue, green} {
		n := srv.requests.Load()
		assert.LessOrEqual(t, n, int64(50*seconds+mon.Burst()), "requests seen by one environment")
		// Both environments are probed together or not at all; only a run cut short at the end
		// may have sent fewer than its five requests.
		assert.GreaterOrEqual(t, n, 5*st.Completed)
		assert.LessOrEqual(t, n, 5*st.Started)
	}
}

func TestRunCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec string
	}{
		{"six fields, every second", "* * * * * *"},
		{"descriptor", "@every 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				blue, green := startApp(t, n, "blue", app.Faults{}), startApp(t, n, "green", app.Faults{})
				mon := synthetic.Monitor{Name: "cron", Suite: parseSuite(t, healthSuite), Cron: tt.spec}
				// The bubble's clock starts on a whole second: 2.5s hold the runs due 1s and 2s later.
				pairs := runFor(t, 2500*time.Millisecond, []synthetic.Monitor{mon}, options(n, blue, green))
				require.Len(t, pairs, 2)
				assert.Equal(t, time.Second, pairs[1].At.Sub(pairs[0].At))
				assert.Zero(t, pairs[0].At.Nanosecond(), "on a whole second")
				for _, p := range pairs {
					assert.True(t, p.Baseline.OK && p.Candidate.OK)
				}
			})
		})
	}
}

func TestRunRecoversPanics(t *testing.T) {
	t.Parallel()
	inBubble(t, testRunRecoversPanics)
}

func testRunRecoversPanics(t *testing.T, n *memnet.Network) {
	blue, green := startApp(t, n, "blue", app.Faults{}), startApp(t, n, "green", app.Faults{})
	var (
		logs  syncBuffer
		stats synthetic.Stats
		calls atomic.Int64
	)
	opts := options(n, blue, green)
	opts.Stats = &stats
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runner := opts.Runner
	opts = synthetic.WithProbe(opts, func(ctx context.Context, s *specs.Suite, env string, targets map[string]smoke.Target) *smoke.SuiteResult {
		// The candidate's probe of the second run blows up, as a bug in a step kind would.
		if env == "green" && calls.Add(1) == 2 {
			var steps []smoke.StepResult
			_ = steps[3]
		}
		return runner.Run(ctx, s, env, targets)
	})
	mon := synthetic.Monitor{Name: "fragile", Suite: parseSuite(t, healthSuite), Every: 50 * time.Millisecond}
	pairs := runFor(t, 500*time.Millisecond, []synthetic.Monitor{mon}, opts)

	st := stats.Monitor("fragile")
	assert.Equal(t, int64(1), st.Panics)
	var seqs []int64
	for _, p := range pairs {
		seqs = append(seqs, p.Seq)
	}
	assert.NotContains(t, seqs, int64(2), "the pair of the run that panicked is dropped")
	require.NotEmpty(t, seqs)
	assert.Greater(t, seqs[len(seqs)-1], int64(2), "the monitor keeps running after a panic")
	out := logs.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "monitor=fragile")
	assert.Contains(t, out, "env=green")
	assert.Contains(t, out, "index out of range")
}
