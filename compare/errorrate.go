package compare

import (
	"fmt"
	"math"
)

// ErrorRate compares the candidate's error proportion with the baseline's. It takes raw events
// (Add) or counts (AddCounts, SetCounts) — two integers per side are all it needs, and a baseline
// with zero errors is handled exactly (its upper bound shrinks like log(1/α)/n, not like 1/√n).
// Thresholds: MaxIncrease in proportion units (0.005 = 0.5 percentage points) and/or MaxRatio;
// Max is an absolute ceiling on the candidate's rate.
type ErrorRate struct {
	cfg    Config
	t      Threshold
	errors [2]int64
	total  [2]int64
}

// NewErrorRate returns an error-rate check.
func NewErrorRate(cfg Config, t Threshold) (*ErrorRate, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if t, err = t.validate(); err != nil {
		return nil, err
	}
	if t.Max != nil && (*t.Max < 0 || *t.Max > 1) {
		return nil, fmt.Errorf("%w: an error-rate max is a proportion in [0, 1], got %v", ErrConfig, *t.Max)
	}
	return &ErrorRate{cfg: cfg, t: t}, nil
}

// Add records one event: failed or not.
func (c *ErrorRate) Add(side Side, failed bool) {
	c.total[side]++
	if failed {
		c.errors[side]++
	}
}

// AddCounts adds a batch of events.
func (c *ErrorRate) AddCounts(side Side, errors, total int64) error {
	if err := checkCounts(errors, total); err != nil {
		return err
	}
	c.errors[side] += errors
	c.total[side] += total
	return nil
}

// SetCounts replaces a side's counts (cumulative counters read from a metrics source).
func (c *ErrorRate) SetCounts(side Side, errors, total int64) error {
	if err := checkCounts(errors, total); err != nil {
		return err
	}
	c.errors[side], c.total[side] = errors, total
	return nil
}

func checkCounts(errors, total int64) error {
	if errors < 0 || total < 0 || errors > total {
		return fmt.Errorf("%w: counts must satisfy 0 ≤ errors ≤ total, got %d errors of %d", ErrBadValue, errors, total)
	}
	return nil
}

// Counts returns a side's errors and total.
func (c *ErrorRate) Counts(side Side) (errors, total int64) { return c.errors[side], c.total[side] }

// Evaluate judges the check now.
func (c *ErrorRate) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "error-rate", Metric: c.metric(), Alpha: c.cfg.Alpha}
	o.Baseline = c.estimate(Baseline)
	o.Candidate = c.estimate(Candidate)
	judge(&o, c.t, rateUnit, c.cfg.MinSamples, [2]string{c.cfg.BaselineName, c.cfg.CandidateName})
	o.Reason += fmt.Sprintf(" — %d/%d vs %d/%d errors", c.errors[Candidate], c.total[Candidate], c.errors[Baseline], c.total[Baseline])
	return o
}

func (c *ErrorRate) metric() string { return "error rate" }

// estimate is a side's rate with its confidence sequence at α/2: the two sides together keep
// the false-fail probability at α.
func (c *ErrorRate) estimate(s Side) Estimate {
	n, e := c.total[s], c.errors[s]
	lo, hi := proportionCS(e, n, c.cfg.Alpha/2, rateMixture)
	v := math.NaN()
	if n > 0 {
		v = float64(e) / float64(n)
	}
	return Estimate{N: n, Value: v, Lower: lo, Upper: hi}
}
