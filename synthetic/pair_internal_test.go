package synthetic

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orderProber returns a prober whose probes pass at once, each recording the environment it
// probed, so that tests can run thousands of pairs without a network.
func orderProber(t *testing.T, o Order, rng *rand.Rand) *prober {
	t.Helper()
	opts := Options{
		Baseline:  Target{Target: smoke.Target{Name: "blue", URL: "http://blue.test"}},
		Candidate: Target{Target: smoke.Target{Name: "green", URL: "http://green.test"}},
		Order:     o,
		rng:       rng,
		probe: func(_ context.Context, _ *specs.Suite, env string, _ map[string]smoke.Target) *smoke.SuiteResult {
			return &smoke.SuiteResult{Environment: env, Status: smoke.Passed, StartedAt: time.Now(),
				Steps: []smoke.StepResult{{Name: "s", Status: smoke.Passed, StatusCode: 200, Latency: time.Millisecond, Attempts: 1}}}
		},
	}
	p, err := opts.prober(make(chan Pair))
	require.NoError(t, err)
	return p
}

// firsts draws the first sides of runs 1…n of one monitor and runs each pair with it.
func firsts(t *testing.T, p *prober, n int) []Role {
	t.Helper()
	m := &Monitor{Name: "m", Suite: &specs.Suite{}}
	order := launchOrder{p: p}
	out := make([]Role, n)
	for i := range out {
		seq := int64(i + 1)
		res := p.pair(t.Context(), m, seq, order.next(seq), slog.New(slog.DiscardHandler))
		require.Nil(t, res.panic)
		require.True(t, res.pair.Baseline.OK && res.pair.Candidate.OK)
		require.Equal(t, "blue", res.pair.Baseline.Env)
		require.Equal(t, "green", res.pair.Candidate.Env)
		out[i] = res.pair.First
	}
	return out
}

// TestPairStartOrder: by default each side is launched first in half the runs, drawn from the
// prober's coin (seeded here, so the sequence is exact) in blocks of two runs; the fixed orders,
// kept for measuring the bias, always launch the same side.
func TestPairStartOrder(t *testing.T) {
	const n = 1000
	count := func(rs []Role, r Role) (k int) {
		for _, x := range rs {
			if x == r {
				k++
			}
		}
		return k
	}
	t.Run("random", func(t *testing.T) {
		got := firsts(t, orderProber(t, OrderRandom, rand.New(rand.NewPCG(1, 2))), n)
		b := count(got, Baseline)
		assert.Equal(t, n, b+count(got, Candidate), "every pair names its first side")
		assert.GreaterOrEqual(t, b, 400, "baseline first in %d of %d pairs", b, n)
		assert.LessOrEqual(t, b, 600, "baseline first in %d of %d pairs", b, n)
		for i := 0; i+1 < n; i += 2 {
			require.NotEqual(t, got[i], got[i+1], "runs %d and %d form a block: one of each order", i+1, i+2)
		}
		again := firsts(t, orderProber(t, OrderRandom, rand.New(rand.NewPCG(1, 2))), n)
		assert.Equal(t, got, again, "the order comes from the prober's coin alone")
		// Not a fixed pattern either: blocks start with either side.
		blockStarts := map[Role]int{}
		for i := 0; i < n; i += 2 {
			blockStarts[got[i]]++
		}
		assert.Greater(t, blockStarts[Baseline], n/2*4/10, "%v", blockStarts)
		assert.Greater(t, blockStarts[Candidate], n/2*4/10, "%v", blockStarts)
	})
	t.Run("process coin", func(t *testing.T) {
		got := firsts(t, orderProber(t, OrderRandom, nil), n)
		assert.Equal(t, n/2, count(got, Baseline))
		assert.Equal(t, n/2, count(got, Candidate))
	})
	for _, tt := range []struct {
		order Order
		want  Role
	}{{OrderBaselineFirst, Baseline}, {OrderCandidateFirst, Candidate}} {
		t.Run(tt.order.String(), func(t *testing.T) {
			assert.Equal(t, 100, count(firsts(t, orderProber(t, tt.order, nil), 100), tt.want))
		})
	}
}

func TestOrderNames(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Order
	}{{"random", OrderRandom}, {"", OrderRandom}, {"baseline-first", OrderBaselineFirst}, {"candidate-first", OrderCandidateFirst}} {
		got, err := ParseOrder(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	_, err := ParseOrder("blue-first")
	assert.ErrorIs(t, err, ErrInvalidOptions)
	_, err = (&Options{Runner: smoke.NewRunner("", nil), Order: "blue-first",
		Baseline:  Target{Target: smoke.Target{Name: "blue", URL: "http://blue.test"}},
		Candidate: Target{Target: smoke.Target{Name: "green", URL: "http://green.test"}},
	}).prober(make(chan Pair))
	assert.True(t, errors.Is(err, ErrInvalidOptions), "%v", err)
	assert.ErrorContains(t, err, `unknown order "blue-first"`)
}
