package server

import (
	"math"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// limit is one limit a check's outcome is judged against: the effect it bounds, that effect's
// interval, and the allowed region (an infinite end bounds nothing on that side). A check fails
// when one interval lies surely outside its region and passes when every one lies within.
// limits mirrors compare's judges; the dashboard's checks.js does the same for its chart, and
// TestLimitsMatchJudges holds both to compare's decisions.
type limit struct {
	Effect   string // ratio, difference, candidate (an absolute guard), statistic
	Interval compare.Effect
	Min, Max float64
}

var inf = math.Inf(1)

// Effects a limit bounds.
const (
	effectRatio     = "ratio"
	effectDiff      = "difference"
	effectCandidate = "candidate"
	effectStatistic = "statistic"
)

// limits lists the limits of a check's outcome (none for checks judged otherwise, such as the
// trace-shape check's findings).
func limits(c verdict.CheckResult) []limit {
	t := c.Threshold
	region := func(limit, inverse float64) (float64, float64) {
		switch t.Direction {
		case compare.Decrease:
			return inverse, inf
		case compare.Either:
			return inverse, limit
		}
		return -inf, limit
	}
	switch c.Kind {
	case "shift":
		if c.Statistic == nil || t.Max == nil {
			return nil
		}
		lo, hi := region(*t.Max, 1-*t.Max)
		return []limit{{Effect: effectStatistic, Interval: *c.Statistic, Min: lo, Max: hi}}
	case "values":
		if c.Statistic == nil {
			return nil
		}
		// The share of intervals over the limit must stay under a half.
		return []limit{{Effect: effectStatistic, Interval: *c.Statistic, Min: -inf, Max: 0.5}}
	case "trace-shape":
		return nil
	}
	var out []limit
	if t.MaxRatio != nil {
		lo, hi := region(*t.MaxRatio, 1 / *t.MaxRatio)
		out = append(out, limit{Effect: effectRatio, Interval: c.Ratio, Min: lo, Max: hi})
	}
	if t.MaxIncrease != nil {
		lo, hi := region(*t.MaxIncrease, -*t.MaxIncrease)
		out = append(out, limit{Effect: effectDiff, Interval: c.Diff, Min: lo, Max: hi})
	}
	if t.Max != nil {
		lo, hi := -inf, *t.Max
		if t.Direction == compare.Decrease {
			lo, hi = *t.Max, inf
		}
		cand := compare.Effect{Value: c.Candidate.Value, Lower: c.Candidate.Lower, Upper: c.Candidate.Upper}
		out = append(out, limit{Effect: effectCandidate, Interval: cand, Min: lo, Max: hi})
	}
	return out
}

// violated: the interval lies surely outside the region (what a fail needs).
func (l limit) violated() bool { return l.Interval.Lower > l.Max || l.Interval.Upper < l.Min }

// satisfied: the interval lies surely within the region (what a pass needs).
func (l limit) satisfied() bool { return l.Interval.Lower >= l.Min && l.Interval.Upper <= l.Max }
