package prometheus

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
)

// nativeSample is one native histogram in the Prometheus HTTP API's form: buckets as
// [boundary rule, lower, upper, count].
func nativeSample(count string, buckets string) string {
	return `{"metric":{},"histogram":[1700000000,{"count":"` + count + `","sum":"9","buckets":[` + buckets + `]}]}`
}

// A native histogram's fine exponential buckets become cumulative counts by upper bound, with
// the total in the +Inf bucket; the zero bucket counts at 0.
func TestNativeHistogram(t *testing.T) {
	f := &fake{answers: map[string]string{"duration": vector(nativeSample("100",
		`[0,"0.1","0.109","40"],[3,"-0.001","0.001","5"],[0,"0.0917","0.1","30"],[0,"0.119","0.1297","25"]`))}}
	s := newSource(t, f, Config{})
	res, err := s.Fetch(context.Background(), HistogramQuery{Buckets: tmpl(t, `sum(increase(duration{color="{{ .env.name }}"}[{{ .window }}]))`)}, green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.001, 0.1, 0.109, 0.1297, math.Inf(1)}, res.Histogram.LE)
	assert.Equal(t, []float64{5, 35, 75, 100, 100}, res.Histogram.Cumulative)
}

func TestNativeHistogramsMustBeAggregated(t *testing.T) {
	f := &fake{answers: map[string]string{"duration": vector(nativeSample("1", `[0,"0.1","0.2","1"]`), nativeSample("1", `[0,"0.1","0.2","1"]`))}}
	s := newSource(t, f, Config{})
	_, err := s.Fetch(context.Background(), HistogramQuery{Buckets: tmpl(t, `increase(duration[{{ .window }}])`)}, green, window)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 series of native histograms, want one: aggregate with sum(...)")
}

// With native buckets (schema 3: 9% apart) a p95 twice as slow fails a maxRatio 1.2
// check, and an identical one passes; with the classic buckets 2 to 2.5 times apart both
// stay undecided: a bound is always a bucket edge.
func TestNativeBucketsDecideWhereClassicCannot(t *testing.T) {
	native := func(scale float64) ([]float64, []float64) {
		// Lognormal-ish: 100,000 observations spread over schema-3 buckets from 10ms.
		var le, cum []float64
		total := 0.0
		for i := 0; i < 120; i++ {
			hi := 0.01 * math.Pow(2, float64(i+1)/8)
			lo := 0.01 * math.Pow(2, float64(i)/8)
			p := lognormalCDF(hi/scale) - lognormalCDF(lo/scale)
			total += 100_000 * p
			le, cum = append(le, hi), append(cum, math.Floor(total))
		}
		return append(le, math.Inf(1)), append(cum, math.Floor(total))
	}
	classic := func(scale float64) ([]float64, []float64) {
		bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
		var cum []float64
		for _, b := range bounds {
			cum = append(cum, math.Floor(100_000*lognormalCDF(b/scale)))
		}
		return append(bounds, math.Inf(1)), append(cum, 100_000)
	}
	judge := func(buckets func(float64) ([]float64, []float64), scale float64) compare.State {
		c, err := compare.NewHistogramLatency(compare.Config{}, 95, compare.Threshold{MaxRatio: compare.F(1.2)})
		require.NoError(t, err)
		le, cum := buckets(1)
		require.NoError(t, c.SetBuckets(compare.Baseline, le, cum))
		le, cum = buckets(scale)
		require.NoError(t, c.SetBuckets(compare.Candidate, le, cum))
		return c.Evaluate().State
	}
	assert.Equal(t, compare.Fail, judge(native, 2))
	assert.Equal(t, compare.Pass, judge(native, 1))
	assert.Equal(t, compare.Inconclusive, judge(classic, 2))
	assert.Equal(t, compare.Inconclusive, judge(classic, 1))
}

// lognormalCDF is P(X ≤ x) for a lognormal with median 100ms and σ 0.5.
func lognormalCDF(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-math.Log(x/0.1)/(0.5*math.Sqrt2))
}
