package compare

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShiftIntervalNeverWidens: looked at after every pair, the shift check's interval only
// narrows, and once it passes it stays passed — the estimate wandering near the limit no longer
// flips it back to inconclusive.
func TestShiftIntervalNeverWidens(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		c, err := NewShift(Config{}, 0.6, Increase)
		require.NoError(t, err)
		lo, hi, passed := 0.0, 1.0, false
		for range 5000 {
			b, g := 10.0, 9.0
			if rng.Float64() < 0.5 {
				g = 11
			}
			require.NoError(t, c.AddPair(b, g))
			o := c.Evaluate()
			require.GreaterOrEqual(t, o.Statistic.Lower, lo, "seed %d: the lower end never falls back", seed)
			require.LessOrEqual(t, o.Statistic.Upper, hi, "seed %d: the upper end never rises back", seed)
			lo, hi = o.Statistic.Lower, o.Statistic.Upper
			if passed {
				require.Equal(t, Pass, o.State, "seed %d: a pass stays a pass", seed)
			}
			passed = o.State == Pass
		}
		assert.True(t, passed, "seed %d: P = 0.5 under a 0.6 limit passes within 5,000 pairs", seed)
	}
}

// TestShiftIntervalCoversUnderContinuousLooks: the running interval still holds the true
// probability at every look in all but about α of the streams.
func TestShiftIntervalCoversUnderContinuousLooks(t *testing.T) {
	const streams, p = 400, 0.55
	missed := 0
	for seed := range uint64(streams) {
		rng := rand.New(rand.NewPCG(seed, 11))
		c, err := NewShift(Config{}, 0.6, Increase)
		require.NoError(t, err)
		for range 1000 {
			g := 9.0
			if rng.Float64() < p {
				g = 11
			}
			require.NoError(t, c.AddPair(10, g))
			if o := c.Evaluate(); o.Statistic.Lower > p || o.Statistic.Upper < p {
				missed++
				break
			}
		}
	}
	// α is 1% by default: 4 of 400 streams expected at most; 12 is beyond the binomial spread
	// (P < 0.1%).
	t.Logf("%d of %d streams ever missed p", missed, streams)
	assert.LessOrEqual(t, missed, 12, "streams whose interval ever missed p")
}
