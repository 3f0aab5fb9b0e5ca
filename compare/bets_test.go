package compare

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quantile bounds hold at every moment at once: over whole streams looked at after every
// block, the true quantile leaves [lower, upper] in at most a fraction α_lower + α_upper of
// streams — with blocks and their cap, with ties, with heavy tails.
func TestQuantileBoundsCoverUnderContinuousLooks(t *testing.T) {
	const alpha, streams, blocks, perBlock = 0.05, 200, 40, 20
	for _, tc := range []struct {
		name   string
		p      float64
		draw   func(*rand.Rand) float64
		truthQ float64
	}{
		{"lognormal p95", 0.95, func(r *rand.Rand) float64 { return lognormal(r, 0.1, 0.5) }, 0.1 * math.Exp(0.5*1.6448536)},
		{"lognormal median", 0.5, func(r *rand.Rand) float64 { return lognormal(r, 0.1, 0.5) }, 0.1},
		{"Pareto p99", 0.99, func(r *rand.Rand) float64 { return 0.05 * math.Pow(1-r.Float64(), -1/2.5) }, 0.05 * math.Pow(0.01, -1/2.5)},
		// Ties: 10 ms steps; the p90 of a uniform on {10, …, 100} ms is 90 ms.
		{"ties p90", 0.9, func(r *rand.Rand) float64 { return 0.01 * float64(1+r.IntN(10)) }, 0.09},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(tc.p*1000)))
			misses := 0
			for range streams {
				q := newQuantileBounds(tc.p, 2)
				missed := false
				for b := 0; b < blocks && !missed; b++ {
					for range perBlock {
						q.add(tc.draw(rng))
					}
					q.closeBlock()
					lo, hi := q.bounds(alpha/2, alpha/2)
					missed = tc.truthQ < lo || tc.truthQ > hi
				}
				if missed {
					misses++
				}
			}
			t.Logf("%d of %d streams left the bounds", misses, streams)
			assert.LessOrEqual(t, misses, allowedMisses(alpha, streams))
		})
	}
}

// The paired error-rate tests keep their level under continuous looks at the tolerance's edge:
// the candidate exactly 0.5pp above the baseline, looked at after every pair.
func TestPairTestsValidAtTheEdge(t *testing.T) {
	const alpha, streams, pairs = 0.05, 300, 3000
	for _, pb := range []float64{0, 0.01} {
		rng := rand.New(rand.NewPCG(12, uint64(pb*1000)))
		fails := 0
		for range streams {
			c, err := NewErrorRate(Config{Alpha: alpha, Block: DefaultBlock}, Threshold{MaxIncrease: F(0.005)})
			require.NoError(t, err)
			for i := range pairs {
				c.Advance(time.Duration(i/10) * time.Second)
				c.Add(Baseline, rng.Float64() < pb)
				c.Add(Candidate, rng.Float64() < pb+0.005)
				if c.Decide() == Fail {
					fails++
					break
				}
			}
		}
		t.Logf("baseline %v: %d of %d streams failed", pb, fails, streams)
		assert.LessOrEqual(t, fails, allowedMisses(alpha, streams), "baseline %v", pb)
	}
}

// So does the latency check at its limit: the candidate exactly 1.2 times slower at every
// quantile, looked at every second.
func TestLatencyValidAtTheLimit(t *testing.T) {
	const alpha, streams = 0.05, 200
	rng := rand.New(rand.NewPCG(13, 14))
	fails := 0
	for range streams {
		c, err := NewLatency(Config{Alpha: alpha, Block: DefaultBlock}, 95, Threshold{MaxRatio: F(1.2)})
		require.NoError(t, err)
		for sec := range 300 {
			c.Advance(time.Duration(sec) * time.Second)
			for range 10 {
				require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
				require.NoError(t, c.Add(Candidate, 1.2*lognormal(rng, 0.1, 0.5)))
			}
			if c.Decide() == Fail {
				fails++
				break
			}
		}
	}
	t.Logf("%d of %d streams failed", fails, streams)
	assert.LessOrEqual(t, fails, allowedMisses(alpha, streams))
}

// The capped mixture never gains more than its cap per block, whatever a block holds.
func TestCapPerBlock(t *testing.T) {
	q := newQuantileBounds(0.95, 2)
	for range 20 {
		q.add(0.1)
	}
	q.closeBlock()
	for range 10_000 {
		q.add(10) // a block of only extreme values
	}
	q.closeBlock()
	k := q.firstAtOrAbove(0.5) // a boundary between 0.1 and 10
	require.Less(t, k, q.k)
	for s := range stakes {
		assert.LessOrEqual(t, float64(q.lw[testAbove][k*len(stakes)+s])*wealthUnit, 2*2.0+1e-9, "stake %v", stakes[s])
	}
}

// A closed block's wealth is rounded down, cut to the ceiling and raised to the floor.
func TestAddWealthRoundsDownAndStaysInRange(t *testing.T) {
	w := addWealth(0, 1.5)
	assert.Equal(t, int32(1.5/wealthUnit), w)
	w = addWealth(0, 3*wealthUnit/2) // one and a half units: one kept
	assert.Equal(t, int32(1), w)
	w = addWealth(0, -wealthUnit/2) // half a unit lost: rounds down to a whole one lost
	assert.Equal(t, int32(-1), w)
	assert.Equal(t, int32(wealthCeiling), addWealth(wealthCeiling-5, 1))
	assert.Equal(t, int32(wealthFloor), addWealth(0, -1e6))
	assert.Equal(t, int32(wealthFloor+int32(1/wealthUnit)), addWealth(wealthFloor, 1))
}

// Every grid shares one set of offsets: ordered, 0.2% apart near the centre, wider beyond, and
// reaching gridSpan either way.
func TestGridOffsets(t *testing.T) {
	o := gridOffsets
	require.True(t, slices.IsSorted(o))
	assert.GreaterOrEqual(t, o[len(o)-1], math.Log(gridSpan))
	assert.LessOrEqual(t, o[1], -math.Log(gridSpan))
	for i := 1; i < len(o); i++ {
		step := o[i] - o[i-1]
		if math.Abs(o[i]) <= math.Log(gridFine) && math.Abs(o[i-1]) <= math.Log(gridFine) {
			assert.InDelta(t, gridStep, step, 1e-12)
		}
		assert.Less(t, step, math.Log(1.06), "no step wider than 6%%")
	}
	assert.Less(t, len(o), 700)
}
