package compare

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSketchExactBelowLimit(t *testing.T) {
	s := NewSketch()
	for _, v := range []float64{0.3, 0.1, 0.2, 0.2, 0} {
		require.NoError(t, s.Add(v))
	}
	assert.True(t, s.Exact())
	assert.Equal(t, 0.0, s.RelativeError())
	assert.Equal(t, []float64{0, 0.1, 0.2, 0.2, 0.3}, []float64{s.Rank(1), s.Rank(2), s.Rank(3), s.Rank(4), s.Rank(5)})
	assert.Equal(t, 0.0, s.Rank(0), "below every value")
	assert.True(t, math.IsInf(s.Rank(6), 1), "above every value")
	assert.Equal(t, 0.2, s.Quantile(0.5))
}

// TestSketchRelativeError checks the guarantee the intervals rely on: past exact storage, every
// rank's value is within a factor (1±ε) of the true order statistic — on a heavy-tailed mix
// spanning microseconds to minutes, with ties and zeros.
func TestSketchRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := NewSketch()
	var all []float64
	for i := 0; i < 200_000; i++ {
		var v float64
		switch i % 10 {
		case 0:
			v = 0 // zeros
		case 1:
			v = 0.25 // ties
		case 2:
			v = 1e-6 * (1 + rng.Float64()) // microseconds
		default:
			v = 0.05 / math.Pow(rng.Float64(), 1/1.5) // Pareto tail
		}
		all = append(all, v)
		require.NoError(t, s.Add(v))
	}
	slices.Sort(all)
	require.False(t, s.Exact())
	eps := s.RelativeError()
	for k := int64(1); k <= int64(len(all)); k += 997 {
		truth, got := all[k-1], s.Rank(k)
		if truth == 0 {
			assert.Equal(t, 0.0, got, "rank %d", k)
			continue
		}
		assert.LessOrEqual(t, math.Abs(got-truth)/truth, eps*1.0000001, "rank %d: %v vs %v", k, got, truth)
	}
	assert.Equal(t, all[len(all)-1], s.Rank(int64(len(all))), "the maximum is exact")
}

func TestSketchMemoryBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := NewSketch()
	for i := 0; i < 1_000_000; i++ {
		require.NoError(t, s.Add(1e-4*math.Exp(3*rng.NormFloat64()))) // 10 orders of magnitude
	}
	assert.Less(t, s.Bytes(), 1<<20, "≤ 1 MiB per side at 1M observations")
	t.Logf("1M values over ~10 decades: %d bytes", s.Bytes())
}

func TestSketchMerge(t *testing.T) {
	a, b, both := NewSketch(), NewSketch(), NewSketch()
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 10_000; i++ {
		v := rng.ExpFloat64()
		require.NoError(t, both.Add(v))
		if i%3 == 0 {
			require.NoError(t, a.Add(v))
		} else {
			require.NoError(t, b.Add(v))
		}
	}
	a.Merge(b)
	assert.Equal(t, both.Count(), a.Count())
	for _, q := range []float64{0.01, 0.5, 0.95, 0.999} {
		assert.InEpsilon(t, both.Quantile(q), a.Quantile(q), 2*DefaultRelativeError, "q=%v", q)
	}
}

func TestSketchRejectsBadValues(t *testing.T) {
	s := NewSketch()
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.001} {
		err := s.Add(v)
		assert.True(t, errors.Is(err, ErrBadValue), "%v: %v", v, err)
	}
	assert.Equal(t, int64(0), s.Count(), "a rejected value is not counted")
}

// TestSketchIncrementalOrder interleaves adds and queries, as a check evaluated every second
// does, and compares every answer with a full sort.
func TestSketchIncrementalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	s := NewSketch()
	var all []float64
	for round := 0; round < 60; round++ {
		for i := 0; i < 1+rng.IntN(60); i++ {
			v := rng.ExpFloat64()
			all = append(all, v)
			require.NoError(t, s.Add(v))
		}
		want := slices.Clone(all)
		slices.Sort(want)
		for _, k := range []int64{1, int64(len(want)/2 + 1), int64(len(want))} {
			require.Equal(t, want[k-1], s.Rank(k), "round %d rank %d", round, k)
		}
	}
	require.True(t, s.Exact())
}
