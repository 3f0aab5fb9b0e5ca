package compare

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With 90,000 observations a side, a p95 25% worse than the baseline's (1.2 allowed) is caught:
// the two sides' evidence is combined in one test of the ratio instead of two intervals that
// must each be sure. The first version, with a rank prior tuned for a few thousand samples and
// a sketch that widened each bound, caught 3 of these 10 runs.
func TestLatencyLargeSamplePower(t *testing.T) {
	caught := 0
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(7, seed))
		c, err := NewLatency(Config{Block: DefaultBlock}, 95, Threshold{MaxRatio: F(1.2)})
		require.NoError(t, err)
		for sec := range 900 {
			c.Advance(time.Duration(sec) * time.Second)
			for range 100 {
				require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
				require.NoError(t, c.Add(Candidate, 1.25*lognormal(rng, 0.1, 0.5)))
			}
		}
		o := c.Evaluate()
		require.Equal(t, c.Decide(), o.State)
		if o.State == Fail {
			caught++
			assert.Greater(t, o.Ratio.Lower, 1.2, o.Reason)
		}
		truth := 0.1 * math.Exp(0.5*1.6448536)
		assert.Less(t, o.Baseline.Lower, truth)
		assert.Greater(t, o.Baseline.Upper, truth)
		assert.Less(t, o.Ratio.Upper-o.Ratio.Lower, 0.09, "the ratio is known within ±3%%: %s", o.Reason)
	}
	assert.GreaterOrEqual(t, caught, 7)
}

// The error-rate check tests the difference directly on pairs. Exact patterns at 10 probes a
// second: the first version needed 800 s for 0% → 1% (its two intervals each had to be sure),
// never decided 0.1% → 1.1% in 15 minutes, and needed 175 s for 0% → 2%.
func TestErrorRateTestsTheDifferenceDirectly(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		baseEvery, candEvery int // one failure every so many probes (0: none)
		within               int // seconds
	}{
		{"0% → 1%", 0, 100, 400},
		{"0.1% → 1.1%", 1000, 91, 600},
		{"0% → 2%", 0, 50, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewErrorRate(Config{Block: DefaultBlock, BaselineName: "blue", CandidateName: "green"}, Threshold{MaxIncrease: F(0.005)})
			require.NoError(t, err)
			i := 0
			state, sec, o := feed(t, c, 900, func(int) {
				for range 10 {
					i++
					c.Add(Baseline, tc.baseEvery > 0 && i%tc.baseEvery == 0)
					c.Add(Candidate, i%tc.candEvery == 0)
				}
			})
			require.Equal(t, Fail, state, o.Reason)
			assert.LessOrEqual(t, sec, tc.within, o.Reason)
			assert.Greater(t, o.Diff.Lower, 0.005, o.Reason)
			assert.Regexp(t, `^error rate green \d\.\d\d% vs blue \d\.\d\d%: \+[\d.]+pp \[\+[\d.]+pp, \+[\d.]+pp\] > \+0\.5pp allowed — \d+/\d+ vs \d+/\d+ errors$`, o.Reason)
		})
	}
}

// Failures both environments share (a dependency down for both) cancel in the pairs: with the
// same 5% of probes failing on both sides at the same moments and a clean candidate otherwise,
// the check passes as soon as it would with no failures at all.
func TestErrorRateSharedFailuresCancel(t *testing.T) {
	shared, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005)})
	clean, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005)})
	pass := map[*ErrorRate]int{}
	for i := 1; i <= 20000 && len(pass) < 2; i++ {
		shared.Add(Baseline, i%20 == 0)
		shared.Add(Candidate, i%20 == 0)
		clean.Add(Baseline, false)
		clean.Add(Candidate, false)
		for _, c := range []*ErrorRate{shared, clean} {
			if _, ok := pass[c]; !ok && c.Decide() == Pass {
				pass[c] = i
			}
		}
	}
	require.Len(t, pass, 2)
	assert.LessOrEqual(t, pass[shared], pass[clean]*11/10, "shared failures cost at most a tenth more probes")
}

// A pass needs its own budget only: with PassAlpha above Alpha (an analysis whose every check
// must pass gives each the whole budget) identical sides pass sooner, and never fail.
func TestPassAlpha(t *testing.T) {
	first := func(passAlpha float64) int {
		rng := rand.New(rand.NewPCG(3, 3))
		c, err := NewLatency(Config{Alpha: 0.005, PassAlpha: passAlpha}, 95, Threshold{MaxRatio: F(1.2)})
		require.NoError(t, err)
		s, sec, o := feed(t, c, 900, func(int) {
			for range 10 {
				require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
				require.NoError(t, c.Add(Candidate, lognormal(rng, 0.1, 0.5)))
			}
		})
		require.Equal(t, Pass, s, o.Reason)
		return sec
	}
	assert.Less(t, first(0.01), first(0.005))
}

// Decide is Evaluate's state without the displayed intervals: the two agree on every kind of
// limit and direction, at every moment.
func TestDecideMatchesEvaluate(t *testing.T) {
	ths := []Threshold{
		{MaxRatio: F(1.2)},
		{MaxRatio: F(1.2), Direction: Decrease},
		{MaxRatio: F(1.5), Direction: Either},
		{MaxIncrease: F(0.02)},
		{MaxRatio: F(2), MaxIncrease: F(0.05), Max: F(0.3)},
		{Max: F(0.25), Direction: Decrease},
	}
	for i, th := range ths {
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		l, err := NewLatency(Config{Block: DefaultBlock}, 90, th)
		require.NoError(t, err)
		scale := []float64{0.6, 1, 1.6}[i%3]
		for sec := range 120 {
			l.Advance(time.Duration(sec) * time.Second)
			for range 20 {
				require.NoError(t, l.Add(Baseline, lognormal(rng, 0.1, 0.4)))
				require.NoError(t, l.Add(Candidate, scale*lognormal(rng, 0.1, 0.4)))
			}
			o := l.Evaluate()
			require.Equal(t, o.State, l.Decide(), "latency %d at %d s: %s", i, sec, o.Reason)
		}
	}
	eths := []Threshold{
		{MaxIncrease: F(0.005)},
		{MaxRatio: F(2)},
		{MaxIncrease: F(0.01), Direction: Either},
		{MaxIncrease: F(0.01), MaxRatio: F(3), Max: F(0.05)},
		{Max: F(0.9), Direction: Decrease},
	}
	for i, th := range eths {
		rng := rand.New(rand.NewPCG(uint64(i), 2))
		e, err := NewErrorRate(Config{Block: DefaultBlock}, th)
		require.NoError(t, err)
		pc := []float64{0.005, 0.02, 0.06}[i%3]
		for sec := range 300 {
			e.Advance(time.Duration(sec) * time.Second)
			for range 20 {
				e.Add(Baseline, rng.Float64() < 0.01)
				e.Add(Candidate, rng.Float64() < pc)
			}
			o := e.Evaluate()
			require.Equal(t, o.State, e.Decide(), "error rate %d at %d s: %s", i, sec, o.Reason)
		}
	}
}
