package compare

import (
	"fmt"
	"math"
	"sort"
)

// HistogramLatency compares a percentile from bucketed latencies — Prometheus histograms, whose
// `le` buckets count observations at or below each upper bound. It never claims more precision
// than the buckets give: a bound is always a bucket edge. The displayed point estimate uses the
// same linear interpolation as PromQL's histogram_quantile, for familiarity only; decisions use
// the edges.
type HistogramLatency struct {
	cfg  Config
	t    Threshold
	p    float64
	pct  float64
	hist [2]buckets
}

type buckets struct {
	le  []float64 // upper bounds, ascending, last may be +Inf
	cum []float64 // cumulative counts
}

// NewHistogramLatency returns a bucket-based latency check of the given percentile.
func NewHistogramLatency(cfg Config, percentile float64, t Threshold) (*HistogramLatency, error) {
	l, err := NewLatency(cfg, percentile, t)
	if err != nil {
		return nil, err
	}
	return &HistogramLatency{cfg: l.cfg, t: l.t, p: l.p, pct: l.pct}, nil
}

// SetBuckets replaces a side's histogram: upper bounds (seconds) and the cumulative count at
// each. Bounds are sorted here; the +Inf bucket, if present, gives the total. Counts from
// rate()/increase() can be fractional and, through extrapolation, slightly non-monotonic:
// each cumulative count is raised to the one before it (as histogram_quantile does) and the
// total is rounded down, so no bound relies on observations that were not made.
func (c *HistogramLatency) SetBuckets(side Side, le, cumulative []float64) error {
	if len(le) != len(cumulative) || len(le) == 0 {
		return fmt.Errorf("%w: %d bucket bounds and %d counts", ErrBadValue, len(le), len(cumulative))
	}
	idx := make([]int, len(le))
	for i := range idx {
		idx[i] = i
		if math.IsNaN(le[i]) || le[i] < 0 || math.IsNaN(cumulative[i]) || math.IsInf(cumulative[i], 0) || cumulative[i] < 0 {
			return fmt.Errorf("%w: bucket le=%v count=%v", ErrBadValue, le[i], cumulative[i])
		}
	}
	sort.Slice(idx, func(a, b int) bool { return le[idx[a]] < le[idx[b]] })
	h := buckets{le: make([]float64, len(le)), cum: make([]float64, len(le))}
	prev := 0.0
	for j, i := range idx {
		if j > 0 && le[i] == h.le[j-1] {
			return fmt.Errorf("%w: duplicate bucket le=%v", ErrBadValue, le[i])
		}
		h.le[j] = le[i]
		h.cum[j] = math.Max(cumulative[i], prev)
		prev = h.cum[j]
	}
	c.hist[side] = h
	return nil
}

// Evaluate judges the check now.
func (c *HistogramLatency) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "latency", Metric: percentileName(c.pct), Alpha: c.cfg.Alpha}
	o.Baseline = c.hist[Baseline].estimate(c.p, c.cfg.Alpha/2)
	o.Candidate = c.hist[Candidate].estimate(c.p, c.cfg.Alpha/2)
	judge(&o, c.t, secondsUnit, c.cfg.MinSamples, [2]string{c.cfg.BaselineName, c.cfg.CandidateName})
	return o
}

func (h buckets) total() float64 {
	if len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

// edges returns the lower and upper edge of the bucket holding the k-th observation.
func (h buckets) edges(k int64) (lo, hi float64) {
	for j, c := range h.cum {
		if float64(k) <= c {
			if j > 0 {
				lo = h.le[j-1]
			}
			return lo, h.le[j]
		}
	}
	return h.le[len(h.le)-1], math.Inf(1)
}

func (h buckets) estimate(p, alpha float64) Estimate {
	n := int64(math.Floor(h.total() + 1e-9))
	e := Estimate{N: n, Value: math.NaN(), Lower: 0, Upper: math.Inf(1)}
	if n == 0 {
		return e
	}
	lo, hi := rankBounds(n, p, alpha)
	if lo >= 1 {
		e.Lower, _ = h.edges(lo)
	}
	if hi <= n {
		_, e.Upper = h.edges(hi)
	}
	e.Value = h.interpolate(p)
	return e
}

// interpolate is histogram_quantile's estimate: linear within the bucket, the highest finite
// bound when the rank falls in the +Inf bucket.
func (h buckets) interpolate(p float64) float64 {
	rank := p * h.total()
	for j, c := range h.cum {
		if rank <= c {
			if math.IsInf(h.le[j], 1) {
				if j == 0 {
					return math.NaN()
				}
				return h.le[j-1]
			}
			lo, below := 0.0, 0.0
			if j > 0 {
				lo, below = h.le[j-1], h.cum[j-1]
			}
			if c == below {
				return h.le[j]
			}
			return lo + (h.le[j]-lo)*(rank-below)/(c-below)
		}
	}
	return math.NaN()
}

// Resolution returns the edges of a side's bucket that holds its percentile: the finest a
// bound on that percentile can be. ok is false without data.
func (c *HistogramLatency) Resolution(side Side) (lo, hi float64, ok bool) {
	h := c.hist[side]
	n := int64(math.Floor(h.total() + 1e-9))
	if n == 0 {
		return 0, 0, false
	}
	lo, hi = h.edges(max(1, int64(math.Ceil(c.p*float64(n)))))
	return lo, hi, true
}

// Resolvable says whether buckets this coarse around the percentile could ever decide the
// check: identical sides must be able to pass (a bucket narrower than every limit).
func (c *HistogramLatency) Resolvable(lo, hi float64) bool {
	if r := c.t.MaxRatio; r != nil && !(lo > 0 && hi/lo <= *r) {
		return false
	}
	if m := c.t.MaxIncrease; m != nil && hi-lo > *m {
		return false
	}
	return true
}
