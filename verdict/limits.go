package verdict

import (
	"math"

	"github.com/greenlight/greenlight/compare"
)

// Limit is one limit a check's outcome is judged against: the effect it bounds, that effect's
// interval, and the allowed region (an infinite end bounds nothing on that side). A check fails
// when one interval lies surely outside its region and passes when every one lies within.
// Limits mirrors compare's judges (TestLimitsMatchJudges holds it to their decisions); the
// daemon's metrics show them, the dashboard's checks.js draws the same (a browser test holds
// the two equal), and the live view says how far each check is from deciding.
type Limit struct {
	Effect   string // ratio, difference, candidate (an absolute guard), statistic
	Interval compare.Effect
	Min, Max float64
}

// Effects a limit bounds.
const (
	EffectRatio     = "ratio"      // candidate ÷ baseline
	EffectDiff      = "difference" // candidate − baseline
	EffectCandidate = "candidate"  // the candidate's own value, against an absolute guard
	EffectStatistic = "statistic"  // the outcome's Statistic
)

// Limits lists the limits of a check's outcome (none for checks judged otherwise, such as the
// trace-shape check's findings).
func (c CheckResult) Limits() []Limit {
	t := c.Threshold
	inf := math.Inf(1)
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
		return []Limit{{Effect: EffectStatistic, Interval: *c.Statistic, Min: lo, Max: hi}}
	case "values":
		if c.Statistic == nil {
			return nil
		}
		// The share of intervals over the limit must stay under a half.
		return []Limit{{Effect: EffectStatistic, Interval: *c.Statistic, Min: -inf, Max: 0.5}}
	case "trace-shape":
		return nil
	}
	var out []Limit
	if t.MaxRatio != nil {
		lo, hi := region(*t.MaxRatio, 1 / *t.MaxRatio)
		out = append(out, Limit{Effect: EffectRatio, Interval: c.Ratio, Min: lo, Max: hi})
	}
	if t.MaxIncrease != nil {
		lo, hi := region(*t.MaxIncrease, -*t.MaxIncrease)
		out = append(out, Limit{Effect: EffectDiff, Interval: c.Diff, Min: lo, Max: hi})
	}
	if t.Max != nil {
		lo, hi := -inf, *t.Max
		if t.Direction == compare.Decrease {
			lo, hi = *t.Max, inf
		}
		cand := compare.Effect{Value: c.Candidate.Value, Lower: c.Candidate.Lower, Upper: c.Candidate.Upper}
		out = append(out, Limit{Effect: EffectCandidate, Interval: cand, Min: lo, Max: hi})
	}
	return out
}

// Violated reports whether the interval lies surely outside the region (what a fail needs).
func (l Limit) Violated() bool { return l.Interval.Lower > l.Max || l.Interval.Upper < l.Min }

// Satisfied reports whether the interval lies surely within the region (what a pass needs).
func (l Limit) Satisfied() bool { return l.Interval.Lower >= l.Min && l.Interval.Upper <= l.Max }
