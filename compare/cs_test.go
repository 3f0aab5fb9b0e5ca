package compare

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allowedMisses is the most misses out of streams that a level-alpha guarantee plausibly gives
// in a simulation: alpha plus three binomial standard deviations. A sequence that is not valid
// under continuous looks (a fixed-n interval re-checked every time) misses several times more.
func allowedMisses(alpha float64, streams int) int {
	sd := math.Sqrt(alpha * (1 - alpha) * float64(streams))
	return int(alpha*float64(streams) + 3*sd)
}

// TestProportionCSCoversUnderContinuousLooks checks the defining property: over whole streams,
// looked at after every observation, the true p leaves the interval in at most a fraction α of
// streams — while the textbook fixed-n interval, looked at the same way, leaves it far more often.
func TestProportionCSCoversUnderContinuousLooks(t *testing.T) {
	const alpha, streams, length = 0.05, 300, 1000
	for _, p := range []float64{0.002, 0.02, 0.3} {
		rng := rand.New(rand.NewPCG(1, uint64(p*1e6)))
		misses, naive := 0, 0
		for s := 0; s < streams; s++ {
			var succ int64
			missed, naiveMissed := false, false
			for n := int64(1); n <= length && !(missed && naiveMissed); n++ {
				if rng.Float64() < p {
					succ++
				}
				if !missed {
					lo, hi := proportionCS(succ, n, alpha, rateMixture)
					missed = p < lo || p > hi
				}
				if !naiveMissed && n >= 30 {
					ph := float64(succ) / float64(n)
					half := 1.96 * math.Sqrt(math.Max(ph*(1-ph), 1e-12)/float64(n))
					naiveMissed = p < ph-half || p > ph+half
				}
			}
			if missed {
				misses++
			}
			if naiveMissed {
				naive++
			}
		}
		t.Logf("p=%v: %d of %d streams left the sequence; the fixed-n interval re-checked: %d", p, misses, streams, naive)
		assert.LessOrEqual(t, misses, allowedMisses(alpha, streams), "p=%v", p)
		assert.Greater(t, naive, 2*allowedMisses(alpha, streams), "p=%v: the simulation must be able to tell", p)
	}
}

func TestRankBoundsCoverUnderContinuousLooks(t *testing.T) {
	const alpha, streams, length = 0.05, 300, 1000
	for _, p := range []float64{0.5, 0.95, 0.99} {
		rng := rand.New(rand.NewPCG(2, uint64(p*1000)))
		misses := 0
		for s := 0; s < streams; s++ {
			// Uniform(0,1): the true p-quantile is p. Keep the sample sorted as it grows.
			xs := make([]float64, 0, length)
			for n := int64(1); n <= length; n++ {
				x := rng.Float64()
				i, _ := slices.BinarySearch(xs, x)
				xs = slices.Insert(xs, i, x)
				lo, hi := rankBounds(n, p, alpha)
				l, u := 0.0, math.Inf(1)
				if lo >= 1 {
					l = xs[lo-1]
				}
				if hi <= n {
					u = xs[hi-1]
				}
				if p < l || p > u {
					misses++
					break
				}
			}
		}
		t.Logf("p=%v: %d of %d streams left the sequence", p, misses, streams)
		assert.LessOrEqual(t, misses, allowedMisses(alpha, streams), "p=%v", p)
	}
}

func TestProportionCSShape(t *testing.T) {
	lo, hi := proportionCS(0, 0, 0.01, rateMixture)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "no data, no knowledge")

	// A zero-error baseline: the upper bound falls roughly like log(1/α)/n.
	_, hi300 := proportionCS(0, 300, 0.005, rateMixture)
	_, hi3000 := proportionCS(0, 3000, 0.005, rateMixture)
	assert.InDelta(t, 0.0232, hi300, 0.001)
	assert.Less(t, hi3000, hi300/8, "ten times the data, about a tenth of the bound")

	lo, hi = proportionCS(50, 100, 0.01, shiftMixture)
	assert.Less(t, lo, 0.5)
	assert.Greater(t, hi, 0.5)
	assert.InDelta(t, 0.5, (lo+hi)/2, 0.01, "symmetric around one half")

	lo, hi = proportionCS(100, 100, 0.01, rateMixture)
	assert.Equal(t, 1.0, hi)
	assert.Greater(t, lo, 0.6)
}

func TestRankBoundsShape(t *testing.T) {
	lo, hi := rankBounds(10, 0.95, 0.005)
	assert.Equal(t, int64(11), hi, "10 samples cannot bound a p95 from above")
	assert.GreaterOrEqual(t, lo, int64(0))

	lo, hi = rankBounds(300, 0.95, 0.005)
	// Measured widths (documented in cs.go): about [89%, 99%] at n = 300.
	assert.InDelta(t, 268, lo, 2)
	assert.InDelta(t, 298, hi, 2)
	lo, hi = rankBounds(100000, 0.95, 0.005)
	require.Less(t, lo, int64(95000))
	require.Greater(t, hi, int64(95000))
	assert.Less(t, hi-lo, int64(700), "the interval narrows like sqrt(n log log n)")
}
