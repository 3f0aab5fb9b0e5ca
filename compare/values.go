package compare

import (
	"fmt"
	"math"
)

// Values compares series with one number per interval per environment (CPU, memory, queue
// depth), Keptn-style: "<=+10%" means the candidate may be at most 10% above the baseline.
// Values are paired by interval (AddPair, or Add per side in arrival order). Each pair says
// whether the candidate was over its allowed level; the check judges the share of intervals
// over it with a confidence sequence — fail when the candidate is surely over in most intervals,
// pass when surely within in most — so a single noisy interval decides nothing, and no
// distribution is assumed. The effect shown is the ratio and difference of the medians.
type Values struct {
	cfg     Config
	t       Threshold
	pairs   pairer
	over, n int64
	med     [2]*Sketch // for the medians shown; negative values are judged but not shown
	cs      runningCS  // narrows the interval of the share over the looks (see Shift)
}

// NewValues returns a value-series check. Threshold: MaxRatio (relative), MaxIncrease
// (absolute, in the values' unit) and/or Max (a guard on the candidate's values).
func NewValues(cfg Config, t Threshold) (*Values, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if t, err = t.validate(); err != nil {
		return nil, err
	}
	return &Values{cfg: cfg, t: t, med: [2]*Sketch{NewSketch(), NewSketch()}}, nil
}

// Add records one interval's value for a side; values pair up in arrival order.
func (c *Values) Add(side Side, v float64) error { return c.pairs.addValue(side, v, c.addPair) }

// AddPair records one interval's baseline and candidate values.
func (c *Values) AddPair(baseline, candidate float64) error {
	return addPair(baseline, candidate, c.addPair)
}

func (c *Values) addPair(b, cand float64) {
	c.n++
	if c.exceeds(b, cand) {
		c.over++
	}
	for s, v := range [2]float64{b, cand} {
		if v >= 0 {
			_ = c.med[s].Add(v)
		}
	}
}

// exceeds reports whether the candidate's value breaks any limit relative to this baseline value.
func (c *Values) exceeds(b, cand float64) bool {
	up := c.t.Direction != Decrease
	down := c.t.Direction != Increase
	if r := c.t.MaxRatio; r != nil && b > 0 {
		if up && cand > b**r || down && cand < b / *r {
			return true
		}
	}
	if inc := c.t.MaxIncrease; inc != nil {
		if up && cand > b+*inc || down && cand < b-*inc {
			return true
		}
	}
	if m := c.t.Max; m != nil {
		if c.t.Direction == Decrease && cand < *m || c.t.Direction != Decrease && cand > *m {
			return true
		}
	}
	return false
}

// Evaluate judges the check now.
func (c *Values) Evaluate() Outcome {
	name := c.cfg.Name
	if name == "" {
		name = "value"
	}
	nan := math.NaN()
	o := Outcome{Check: c.cfg.Name, Kind: "values", Metric: name, Alpha: c.cfg.Alpha, Threshold: c.t}
	o.Baseline = Estimate{N: c.n, Value: c.med[Baseline].Quantile(0.5), Lower: nan, Upper: nan}
	o.Candidate = Estimate{N: c.n, Value: c.med[Candidate].Quantile(0.5), Lower: nan, Upper: nan}
	o.Ratio = Effect{Value: ratio(o.Candidate.Value, o.Baseline.Value), Lower: nan, Upper: nan}
	o.Diff = Effect{Value: o.Candidate.Value - o.Baseline.Value, Lower: nan, Upper: nan}

	lo, hi := proportionCS(c.over, c.n, c.cfg.Alpha, shiftMixture)
	if c.n > 0 {
		lo, hi = c.cs.narrow(lo, hi)
	}
	share := Effect{Value: nan, Lower: lo, Upper: hi}
	if c.n > 0 {
		share.Value = float64(c.over) / float64(c.n)
	}
	o.Statistic = &share
	if c.n < c.cfg.MinSamples {
		o.State = Inconclusive
		o.Reason = fmt.Sprintf("%s: waiting for intervals (%d of %d)", name, c.n, c.cfg.MinSamples)
		return o
	}
	k := constraint{label: "over the limit in", est: share, min: math.Inf(-1), max: 0.5, show: fmtPercent}
	switch {
	case k.violated():
		o.State = Fail
	case hi < 0.5:
		o.State = Pass
	default:
		o.State = Inconclusive
	}
	o.Reason = fmt.Sprintf("%s %s %s vs %s %s (medians, ratio %s): %s of %d intervals (limit %s)",
		name, c.cfg.CandidateName, trimFloat(o.Candidate.Value, 0), c.cfg.BaselineName, trimFloat(o.Baseline.Value, 0),
		fmtRatio(o.Ratio.Value, 0), k.describe(o.State), c.n, c.limitText())
	return o
}

func (c *Values) limitText() string {
	var parts []string
	if r := c.t.MaxRatio; r != nil {
		parts = append(parts, fmt.Sprintf("%+.0f%%", (*r-1)*100))
	}
	if inc := c.t.MaxIncrease; inc != nil {
		parts = append(parts, "+"+trimFloat(*inc, 0))
	}
	if m := c.t.Max; m != nil {
		parts = append(parts, "max "+trimFloat(*m, 0))
	}
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s + " " + string(c.t.Direction)
}
