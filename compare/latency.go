package compare

import (
	"fmt"
	"math"
	"strconv"
)

// Latency compares a percentile (p50 … p99.9) of the candidate's latencies with the baseline's,
// from raw values in seconds. It is distribution-free: the bounds are order statistics chosen
// by a confidence sequence for the quantile, so heavy tails, ties and several modes need no
// model. Memory per side is bounded (see Sketch); a sketch's approximation widens the bounds.
type Latency struct {
	cfg Config
	t   Threshold
	p   float64 // as a fraction: 0.95
	pct float64 // as written: 95
	sk  [2]*Sketch
}

// NewLatency returns a latency check of the given percentile (95, 99.9, …).
func NewLatency(cfg Config, percentile float64, t Threshold) (*Latency, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !(percentile > 0 && percentile < 100) {
		return nil, fmt.Errorf("%w: percentile must be in (0, 100), got %v", ErrConfig, percentile)
	}
	if t, err = t.validate(); err != nil {
		return nil, err
	}
	return &Latency{cfg: cfg, t: t, p: percentile / 100, pct: percentile, sk: [2]*Sketch{NewSketch(), NewSketch()}}, nil
}

// Add records one latency in seconds. NaN, infinities and negative values are rejected.
func (c *Latency) Add(side Side, seconds float64) error {
	return c.sk[side].Add(seconds)
}

// Sketch returns a side's values (read-only use).
func (c *Latency) Sketch(side Side) *Sketch { return c.sk[side] }

// Evaluate judges the check now.
func (c *Latency) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "latency", Metric: percentileName(c.pct), Alpha: c.cfg.Alpha}
	o.Baseline = quantileEstimate(c.sk[Baseline], c.p, c.cfg.Alpha/2)
	o.Candidate = quantileEstimate(c.sk[Candidate], c.p, c.cfg.Alpha/2)
	judge(&o, c.t, secondsUnit, c.cfg.MinSamples, [2]string{c.cfg.BaselineName, c.cfg.CandidateName})
	return o
}

// quantileEstimate bounds a side's p-quantile at level alpha, widened by the sketch's error.
func quantileEstimate(s *Sketch, p, alpha float64) Estimate {
	n := s.Count()
	e := Estimate{N: n, Value: math.NaN(), Lower: 0, Upper: math.Inf(1)}
	if n == 0 {
		return e
	}
	eps := s.RelativeError()
	lo, hi := rankBounds(n, p, alpha)
	e.Value = s.Quantile(p)
	if lo >= 1 {
		e.Lower = s.Rank(lo) / (1 + eps)
	}
	if hi <= n {
		e.Upper = s.Rank(hi) / (1 - eps)
	}
	return e
}

// percentileName writes 95 as p95 and 99.9 as p99.9.
func percentileName(pct float64) string {
	return "p" + strconv.FormatFloat(pct, 'f', -1, 64)
}
