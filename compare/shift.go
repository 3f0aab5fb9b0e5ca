package compare

import (
	"fmt"
	"math"
)

// Shift is a rank-based check of the whole distribution: the probability that a candidate value
// exceeds a baseline value (the common-language effect size behind the Mann-Whitney test, which
// Kayenta offers as "cles"). 0.5 means no shift. The effect reads directly: "green slower than
// blue in 71% of pairs". Values are paired as they arrive (AddPair, or Add per side); ties are
// left out, so the probability is P(candidate > baseline | they differ).
//
// The threshold is MaxProbability (e.g. 0.6): fail when the probability is surely above it,
// pass when surely at or below it. With Decrease, fail when surely below 1−MaxProbability; with
// Either, outside [1−MaxProbability, MaxProbability].
type Shift struct {
	cfg     Config
	maxP    float64
	dir     Direction
	pairs   pairer
	wins, n int64
	ties    int64
	medians [2]*Sketch
	// cs narrows the interval of the probability over the looks (not saved: a restored check
	// starts it again, which is as valid).
	cs runningCS
}

// NewShift returns a distribution-shift check.
func NewShift(cfg Config, maxProbability float64, dir Direction) (*Shift, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !(maxProbability >= 0.5 && maxProbability < 1) {
		return nil, fmt.Errorf("%w: maxProbability must be in [0.5, 1), got %v", ErrConfig, maxProbability)
	}
	t, err := Threshold{MaxRatio: F(1), Direction: dir}.validate()
	if err != nil {
		return nil, err
	}
	return &Shift{cfg: cfg, maxP: maxProbability, dir: t.Direction, medians: [2]*Sketch{NewSketch(), NewSketch()}}, nil
}

// Add records one value for a side; values pair up in arrival order.
func (c *Shift) Add(side Side, v float64) error { return c.pairs.addValue(side, v, c.addPair) }

// AddPair records a baseline and a candidate value measured together.
func (c *Shift) AddPair(baseline, candidate float64) error {
	return addPair(baseline, candidate, c.addPair)
}

func (c *Shift) addPair(b, cand float64) {
	if b >= 0 && cand >= 0 {
		_ = c.medians[Baseline].Add(b)
		_ = c.medians[Candidate].Add(cand)
	}
	switch {
	case cand > b:
		c.wins++
		c.n++
	case cand < b:
		c.n++
	default:
		c.ties++
	}
}

// Evaluate judges the check now.
func (c *Shift) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "shift", Metric: fmt.Sprintf("P(%s > %s)", c.cfg.CandidateName, c.cfg.BaselineName), Alpha: c.cfg.Alpha}
	pairs := c.n + c.ties
	nan := math.NaN()
	o.Baseline = Estimate{N: pairs, Value: c.medians[Baseline].Quantile(0.5), Lower: nan, Upper: nan}
	o.Candidate = Estimate{N: pairs, Value: c.medians[Candidate].Quantile(0.5), Lower: nan, Upper: nan}
	o.Ratio = Effect{Value: ratio(o.Candidate.Value, o.Baseline.Value), Lower: nan, Upper: nan}
	o.Diff = Effect{Value: o.Candidate.Value - o.Baseline.Value, Lower: nan, Upper: nan}
	o.Threshold = Threshold{Direction: c.dir, Max: F(c.maxP)}

	lo, hi := proportionCS(c.wins, c.n, c.cfg.Alpha, shiftMixture)
	if c.n > 0 {
		lo, hi = c.cs.narrow(lo, hi)
	}
	prob := Effect{Value: math.NaN(), Lower: lo, Upper: hi}
	if c.n > 0 {
		prob.Value = float64(c.wins) / float64(c.n)
	}
	o.Statistic = &prob
	if c.n < c.cfg.MinSamples {
		o.State = Inconclusive
		o.Reason = fmt.Sprintf("%s: waiting for pairs (%d of %d, %d ties)", o.Metric, c.n, c.cfg.MinSamples, c.ties)
		return o
	}
	min, max := math.Inf(-1), c.maxP
	switch c.dir {
	case Decrease:
		min, max = 1-c.maxP, math.Inf(1)
	case Either:
		min = 1 - c.maxP
	}
	k := constraint{est: prob, min: min, max: max, show: probUnit.value}
	switch {
	case k.violated():
		o.State = Fail
	case k.satisfied():
		o.State = Pass
	default:
		o.State = Inconclusive
	}
	o.Reason = fmt.Sprintf("%s = %s over %d pairs (medians %s vs %s)", o.Metric, k.describe(o.State), c.n,
		fmtSeconds(o.Candidate.Value, 0), fmtSeconds(o.Baseline.Value, 0))
	if c.ties > 0 {
		o.Reason += fmt.Sprintf(", %d ties", c.ties)
	}
	return o
}

// Decide returns the state Evaluate would.
func (c *Shift) Decide() State { return c.Evaluate().State }
