package compare

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

// runLatency feeds perSecond observations per side each simulated second for up to seconds,
// evaluating every second, and returns the first decision and when it came (0 if none).
func runLatency(t *testing.T, seed uint64, scale float64, perSecond, seconds int, th Threshold) (State, int, Outcome) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	c, err := NewLatency(Config{BaselineName: "blue", CandidateName: "green"}, 95, th)
	require.NoError(t, err)
	var o Outcome
	for sec := 1; sec <= seconds; sec++ {
		for k := 0; k < perSecond; k++ {
			require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
			require.NoError(t, c.Add(Candidate, scale*lognormal(rng, 0.1, 0.5)))
		}
		if s := c.Decide(); s != Inconclusive {
			o = c.Evaluate()
			require.Equal(t, s, o.State, "Decide and Evaluate agree: %s", o.Reason)
			return o.State, sec, o
		}
	}
	return Inconclusive, 0, c.Evaluate()
}

func TestLatencyNoFalseFailUnderContinuousChecking(t *testing.T) {
	// Identical and within-tolerance candidates, evaluated every second: at α = 1% none of 100
	// runs may fail (the bench measures the rate over thousands).
	for _, scale := range []float64{1, 1.1, 1.2} {
		fails := 0
		for run := 0; run < 100; run++ {
			if s, _, _ := runLatency(t, uint64(run), scale, 10, 300, Threshold{MaxRatio: F(1.2)}); s == Fail {
				fails++
			}
		}
		assert.Equal(t, 0, fails, "scale %v", scale)
	}
}

func TestLatencyDetectsRegression(t *testing.T) {
	state, sec, o := runLatency(t, 1, 2, 10, 300, Threshold{MaxRatio: F(1.2)})
	require.Equal(t, Fail, state)
	assert.Less(t, sec, 120, "a doubled p95 at 10 obs/s is caught in seconds, not minutes")
	assert.Regexp(t, `^p95 green \d+ms vs blue \d+ms: ratio \d\.\d\d \[>?\d\.\d{2,8}, \d\.\d\d\] > 1\.20 allowed$`, o.Reason)
	assert.Greater(t, o.Ratio.Lower, 1.2)
	assert.Equal(t, o.Candidate.N, o.Baseline.N)
}

func TestLatencyPassNeedsEvidence(t *testing.T) {
	state, _, o := runLatency(t, 2, 1, 10, 5, Threshold{MaxRatio: F(1.2)})
	assert.Equal(t, Inconclusive, state, "50 samples per side cannot show p95 within 20%%: %s", o.Reason)
	assert.Contains(t, o.Reason, "inconclusive against ≤ 1.20")

	state, _, o = runLatency(t, 2, 1, 100, 120, Threshold{MaxRatio: F(1.2)})
	require.Equal(t, Pass, state)
	assert.LessOrEqual(t, o.Ratio.Upper, 1.2, "pass means the whole interval is inside: %s", o.Reason)
	assert.Contains(t, o.Reason, "≤ 1.20 allowed")
}

func TestLatencyMinSamples(t *testing.T) {
	c, err := NewLatency(Config{MinSamples: 50}, 99, Threshold{MaxRatio: F(1.5)})
	require.NoError(t, err)
	for i := 0; i < 49; i++ {
		require.NoError(t, c.Add(Baseline, 0.1))
		require.NoError(t, c.Add(Candidate, 10)) // a huge regression, but too few samples
	}
	o := c.Evaluate()
	assert.Equal(t, Inconclusive, o.State)
	assert.Equal(t, "p99: waiting for samples (candidate 49, baseline 49 of 50)", o.Reason)
}

func TestLatencyThresholdKinds(t *testing.T) {
	fill := func(c *Latency, b, cand float64) {
		rng := rand.New(rand.NewPCG(11, 12))
		for i := 0; i < 3000; i++ {
			require.NoError(t, c.Add(Baseline, lognormal(rng, b, 0.2)))
			require.NoError(t, c.Add(Candidate, lognormal(rng, cand, 0.2)))
		}
	}
	cases := []struct {
		name    string
		th      Threshold
		b, c    float64
		want    State
		pattern string
	}{
		{"absolute increase fails", Threshold{MaxIncrease: F(0.05)}, 0.1, 0.2, Fail, `p95 candidate \d+ms vs baseline \d+ms: \+\d+ms \[\+\d+ms, \+\d+ms\] > \+50ms allowed`},
		{"absolute increase passes", Threshold{MaxIncrease: F(0.05)}, 0.1, 0.1, Pass, `≤ \+50ms allowed`},
		{"guard fails alone", Threshold{MaxRatio: F(2), Max: F(0.15)}, 0.1, 0.12, Fail, `candidate \d+ms \[\d+ms, \d+ms\] > 150ms allowed`},
		{"both limits must hold", Threshold{MaxRatio: F(3), MaxIncrease: F(0.01)}, 0.1, 0.15, Fail, `> \+10ms allowed`},
		{"decrease: faster is fine", Threshold{MaxRatio: F(1.2), Direction: Decrease}, 0.1, 0.05, Fail, `ratio 0\.\d\d \[.*\] < 0\.83 allowed`},
		{"increase ignores a speed-up", Threshold{MaxRatio: F(1.2)}, 0.1, 0.05, Pass, `ratio 0\.\d\d`},
		{"either catches a speed-up", Threshold{MaxRatio: F(1.2), Direction: Either}, 0.1, 0.05, Fail, `< 0\.83 allowed`},
		{"either passes inside", Threshold{MaxRatio: F(1.2), Direction: Either}, 0.1, 0.1, Pass, `within \[0\.83, 1\.20\] allowed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewLatency(Config{}, 95, tc.th)
			require.NoError(t, err)
			fill(c, tc.b, tc.c)
			o := c.Evaluate()
			assert.Equal(t, tc.want, o.State, o.Reason)
			assert.Regexp(t, tc.pattern, o.Reason)
		})
	}
}

func TestLatencyLargeSampleUsesSketchBounds(t *testing.T) {
	c, err := NewLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 50_000; i++ {
		require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
		require.NoError(t, c.Add(Candidate, lognormal(rng, 0.1, 0.5)))
	}
	require.False(t, c.Sketch(Baseline).Exact())
	o := c.Evaluate()
	assert.Equal(t, Pass, o.State)
	truth := 0.1 * math.Exp(0.5*1.6448536)
	assert.Less(t, o.Baseline.Lower, truth)
	assert.Greater(t, o.Baseline.Upper, truth)
	assert.Less(t, o.Baseline.Upper/o.Baseline.Lower, 1.1, "tight at 50k samples despite the sketch")
}

func TestCheckConfigErrors(t *testing.T) {
	_, err := NewLatency(Config{}, 100, Threshold{MaxRatio: F(1.2)})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewLatency(Config{}, 95, Threshold{})
	assert.EqualError(t, err, "invalid check configuration: set at least one of maxRatio, maxIncrease, max")
	_, err = NewLatency(Config{Alpha: 0.7}, 95, Threshold{MaxRatio: F(1.2)})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewLatency(Config{}, 95, Threshold{MaxRatio: F(-1)})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewLatency(Config{}, 95, Threshold{MaxRatio: F(0.9), Direction: Either})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewLatency(Config{}, 95, Threshold{MaxRatio: F(1.2), Direction: "up"})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewErrorRate(Config{}, Threshold{Max: F(2)})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewShift(Config{}, 0.4, Increase)
	assert.ErrorIs(t, err, ErrConfig)
}

func TestBadInputIsRejected(t *testing.T) {
	l, _ := NewLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	for _, v := range []float64{math.NaN(), math.Inf(1), -1} {
		assert.True(t, errors.Is(l.Add(Candidate, v), ErrBadValue), "%v", v)
	}
	e, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.01)})
	assert.ErrorIs(t, e.AddCounts(Baseline, 5, 3), ErrBadValue)
	assert.ErrorIs(t, e.SetCounts(Baseline, -1, 3), ErrBadValue)
	s, _ := NewShift(Config{}, 0.6, Increase)
	assert.ErrorIs(t, s.AddPair(1, math.NaN()), ErrBadValue)
	v, _ := NewValues(Config{}, Threshold{MaxRatio: F(1.1)})
	assert.ErrorIs(t, v.Add(Baseline, math.Inf(-1)), ErrBadValue)
}

func TestErrorRate(t *testing.T) {
	t.Run("zero-error baseline, clear regression", func(t *testing.T) {
		c, err := NewErrorRate(Config{BaselineName: "blue", CandidateName: "green"}, Threshold{MaxIncrease: F(0.005)})
		require.NoError(t, err)
		require.NoError(t, c.SetCounts(Baseline, 0, 2000))
		require.NoError(t, c.SetCounts(Candidate, 100, 2000))
		o := c.Evaluate()
		assert.Equal(t, Fail, o.State)
		assert.Regexp(t, `^error rate green 5\.00% vs blue 0\.00%: \+5pp \[\+\d\.\d+pp, \+\d\.\d+pp\] > \+0\.5pp allowed — 100/2000 vs 0/2000 errors$`, o.Reason)
	})
	t.Run("zero errors on both sides passes with enough data", func(t *testing.T) {
		c, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005)})
		for i := 0; i < 3000; i++ {
			c.Add(Baseline, false)
			c.Add(Candidate, false)
		}
		o := c.Evaluate()
		assert.Equal(t, Pass, o.State, o.Reason)
		assert.Equal(t, 0.0, o.Candidate.Value)
	})
	t.Run("ratio with a zero baseline stays undecided on one error", func(t *testing.T) {
		c, _ := NewErrorRate(Config{}, Threshold{MaxRatio: F(2)})
		require.NoError(t, c.AddCounts(Baseline, 0, 1000))
		require.NoError(t, c.AddCounts(Candidate, 1, 1000))
		o := c.Evaluate()
		assert.Equal(t, Inconclusive, o.State, o.Reason)
		assert.True(t, math.IsInf(o.Ratio.Value, 1))
	})
	t.Run("both flapping equally is no regression", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		c, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.01)})
		for sec := 0; sec < 600; sec++ {
			for k := 0; k < 10; k++ {
				c.Add(Baseline, rng.Float64() < 0.2)
				c.Add(Candidate, rng.Float64() < 0.2)
			}
			require.NotEqual(t, Fail, c.Evaluate().State)
		}
	})
}

func TestHistogramLatency(t *testing.T) {
	le := []float64{0.05, 0.1, 0.25, 0.5, 1, math.Inf(1)}
	c, err := NewHistogramLatency(Config{BaselineName: "blue", CandidateName: "green"}, 95, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	require.NoError(t, c.SetBuckets(Baseline, le, []float64{4000, 9000, 9800, 10000, 10000, 10000}))
	// Fractional and slightly non-monotonic, as increase() produces.
	require.NoError(t, c.SetBuckets(Candidate, le, []float64{1000, 3000, 6000.4, 5999.9, 9000, 10000.7}))
	o := c.Evaluate()
	assert.Equal(t, Fail, o.State, o.Reason)
	for _, v := range []float64{o.Baseline.Lower, o.Baseline.Upper, o.Candidate.Lower, o.Candidate.Upper} {
		assert.Contains(t, append(le, 0), v, "every bound is a bucket edge")
	}
	assert.Equal(t, int64(10000), o.Candidate.N, "the total is rounded down")
	assert.InDelta(t, 0.25, o.Baseline.Upper, 1e-12)
	assert.InDelta(t, 1, o.Candidate.Lower, 1e-12, "10% of the candidate is above 1s")
	assert.True(t, math.IsInf(o.Candidate.Upper, 1), "its p95 is in the +Inf bucket")

	// Coarse buckets cannot separate close distributions: never a pass or fail on precision the
	// buckets do not have.
	c2, _ := NewHistogramLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, c2.SetBuckets(Baseline, []float64{0.1, 1, math.Inf(1)}, []float64{5000, 10000, 10000}))
	require.NoError(t, c2.SetBuckets(Candidate, []float64{0.1, 1, math.Inf(1)}, []float64{5000, 10000, 10000}))
	assert.Equal(t, Inconclusive, c2.Evaluate().State, "p95 in (0.1, 1] on both sides: ratio anywhere in [0.1, 10]")

	assert.ErrorIs(t, c.SetBuckets(Baseline, []float64{0.1}, []float64{1, 2}), ErrBadValue)
	assert.ErrorIs(t, c.SetBuckets(Baseline, []float64{0.1, 0.1}, []float64{1, 2}), ErrBadValue)
	assert.ErrorIs(t, c.SetBuckets(Baseline, []float64{0.1}, []float64{math.NaN()}), ErrBadValue)
}

func TestShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	c, err := NewShift(Config{BaselineName: "blue", CandidateName: "green"}, 0.6, Increase)
	require.NoError(t, err)
	for i := 0; i < 400; i++ {
		require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.3)))
		require.NoError(t, c.Add(Candidate, lognormal(rng, 0.13, 0.3)))
	}
	o := c.Evaluate()
	assert.Equal(t, Fail, o.State, o.Reason)
	assert.Regexp(t, `^P\(green > blue\) = 0\.\d\d \[0\.\d\d, 0\.\d\d\] > 0\.60 allowed over 400 pairs \(medians 1\d\d(\.\d+)?ms vs \d+(\.\d+)?ms\)$`, o.Reason)
	require.NotNil(t, o.Statistic)
	assert.Greater(t, o.Statistic.Lower, 0.6)

	same, _ := NewShift(Config{}, 0.6, Increase)
	for i := 0; i < 2000; i++ {
		require.NoError(t, same.AddPair(lognormal(rng, 0.1, 0.3), lognormal(rng, 0.1, 0.3)))
	}
	assert.Equal(t, Pass, same.Evaluate().State)

	ties, _ := NewShift(Config{}, 0.6, Increase)
	for i := 0; i < 100; i++ {
		require.NoError(t, ties.AddPair(1, 1))
	}
	o = ties.Evaluate()
	assert.Equal(t, Inconclusive, o.State, "only ties: no information")
	assert.Contains(t, o.Reason, "100 ties")
}

func TestValues(t *testing.T) {
	th, err := ParseCriterion("<=+10%")
	require.NoError(t, err)
	c, err := NewValues(Config{Name: "cpu", BaselineName: "blue", CandidateName: "green"}, th)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(41, 42))
	for i := 0; i < 60; i++ {
		b := 0.5 + 0.05*rng.NormFloat64()
		require.NoError(t, c.AddPair(b, b*1.3+0.02*rng.NormFloat64()))
	}
	o := c.Evaluate()
	assert.Equal(t, Fail, o.State, o.Reason)
	assert.Regexp(t, `^cpu green 0\.6\d* vs blue 0\.\d+ \(medians, ratio 1\.\d\d\): over the limit in 100\.00% \[\d+\.\d+%, 100\.00%\] > 50\.00% allowed of 60 intervals \(limit \+10% increase\)$`, o.Reason)

	ok, _ := NewValues(Config{}, th)
	for i := 0; i < 60; i++ {
		b := 0.5 + 0.05*rng.NormFloat64()
		require.NoError(t, ok.AddPair(b, b*1.0+0.01*rng.NormFloat64()))
	}
	assert.Equal(t, Pass, ok.Evaluate().State)
}

func TestParseCriterion(t *testing.T) {
	cases := []struct {
		in   string
		want Threshold
		err  string
	}{
		{in: "<=+10%", want: Threshold{MaxRatio: F(1.1), Direction: Increase}},
		{in: "<+5", want: Threshold{MaxIncrease: F(5), Direction: Increase}},
		{in: ">=-10%", want: Threshold{MaxRatio: F(1 / 0.9), Direction: Decrease}},
		{in: "> -5", want: Threshold{MaxIncrease: F(5), Direction: Decrease}},
		{in: "<=800", want: Threshold{Max: F(800), Direction: Increase}},
		{in: ">=0.99", want: Threshold{Max: F(0.99), Direction: Decrease}},
		{in: "<=-10%", err: "would demand an improvement"},
		{in: "<=10%", err: "a percentage needs a sign"},
		{in: ">=-100%", err: "allows anything"},
		{in: "== 5", err: "want an operator"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCriterion(tc.in)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrConfig)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want.Direction, got.Direction)
			for _, pair := range [][2]*float64{{tc.want.MaxRatio, got.MaxRatio}, {tc.want.MaxIncrease, got.MaxIncrease}, {tc.want.Max, got.Max}} {
				if pair[0] == nil {
					assert.Nil(t, pair[1])
				} else {
					require.NotNil(t, pair[1])
					assert.InDelta(t, *pair[0], *pair[1], 1e-12)
				}
			}
		})
	}
}

func TestOutcomeJSON(t *testing.T) {
	c, _ := NewLatency(Config{Name: "p95"}, 95, Threshold{MaxRatio: F(1.2)})
	for i := 0; i < 30; i++ {
		require.NoError(t, c.Add(Baseline, 0.1))
		require.NoError(t, c.Add(Candidate, 0.1))
	}
	b, err := json.Marshal(c.Evaluate())
	require.NoError(t, err, "an unbounded interval must not break JSON")
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "inconclusive", back["state"])
	assert.Equal(t, "Inf", back["ratio"].(map[string]any)["upper"], "+Inf is written as \"Inf\"")
	var o Outcome
	require.NoError(t, json.Unmarshal(b, &o))
	assert.True(t, math.IsInf(o.Ratio.Upper, 1), "and reads back as +Inf")
}

// A bound just beyond its limit gets the digits that make the comparison read true, in every
// unit, and no more digits than usual otherwise.
func TestBoundBesideTheLimitShowsTheDifference(t *testing.T) {
	cases := []struct {
		name  string
		k     constraint
		state State
		want  string
	}{
		{"ratio", constraint{label: "ratio", est: Effect{1.76, 1.5003, 2.17}, min: math.Inf(-1), max: 1.5, show: fmtRatio}, Fail,
			"ratio 1.76 [1.5003, 2.17] > 1.50 allowed"},
		{"ratio below", constraint{label: "ratio", est: Effect{0.6, 0.5, 0.66661}, min: 1 / 1.5, max: math.Inf(1), show: fmtRatio}, Fail,
			"ratio 0.60 [0.50, 0.6666] < 0.67 allowed"},
		{"difference in points", constraint{est: Effect{0.02, 0.010004, 0.03}, min: math.Inf(-1), max: 0.01, show: rateUnit.diff}, Fail,
			"+2pp [+1.0004pp, +3pp] > +1pp allowed"},
		{"latency", constraint{label: "green", est: Effect{0.31, 0.30004, 0.32}, min: math.Inf(-1), max: 0.3, show: secondsUnit.value}, Fail,
			"green 310ms [300.04ms, 320ms] > 300ms allowed"},
		{"inconclusive: the upper bound just above the limit", constraint{est: Effect{0.48, 0.36, 0.6004}, min: math.Inf(-1), max: 0.6, show: fmtProb}, Inconclusive,
			"0.48 [0.36, 0.6004] inconclusive against ≤ 0.60"},
		{"inconclusive: the lower bound just below the limit", constraint{label: "ratio", est: Effect{0.9, 0.83329, 1.1}, min: 1 / 1.2, max: math.Inf(1), show: fmtRatio}, Inconclusive,
			"ratio 0.90 [0.83329, 1.10] inconclusive against ≥ 0.83"},
		{"far from the limit: usual digits", constraint{label: "ratio", est: Effect{1.76, 1.61, 2.17}, min: math.Inf(-1), max: 1.5, show: fmtRatio}, Fail,
			"ratio 1.76 [1.61, 2.17] > 1.50 allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.k.describe(tc.state))
		})
	}
}

// A bound a hair beyond its limit, closer than extra digits can show, is marked with its side.
func TestBoundAtTheLimitSaysWhichSide(t *testing.T) {
	k := constraint{label: "ratio", est: Effect{1.23, math.Nextafter(1.2, 2), 1.28}, min: math.Inf(-1), max: 1.2, show: fmtRatio}
	assert.Equal(t, "ratio 1.23 [>1.20, 1.28] > 1.20 allowed", k.describe(Fail))
	k = constraint{label: "ratio", est: Effect{0.8, 0.7, math.Nextafter(1/1.2, 0)}, min: 1 / 1.2, max: math.Inf(1), show: fmtRatio}
	assert.Equal(t, "ratio 0.80 [0.70, <0.83] < 0.83 allowed", k.describe(Fail))
	k = constraint{label: "ratio", est: Effect{1.1, 1.0, 1.2}, min: math.Inf(-1), max: 1.2, show: fmtRatio}
	assert.Equal(t, "ratio 1.10 [1.00, 1.20] ≤ 1.20 allowed", k.describe(Pass))
}
