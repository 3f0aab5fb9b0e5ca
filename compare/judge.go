package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// unit formats a check's values in reasons.
type unit struct {
	value func(float64) string // a level: "412ms", "3.10%"
	diff  func(float64) string // a signed difference: "+214ms", "+2.90pp"
}

var (
	secondsUnit = unit{value: fmtSeconds, diff: func(v float64) string { return signed(v, fmtSeconds) }}
	rateUnit    = unit{value: fmtPercent, diff: func(v float64) string { return signed(v*100, func(x float64) string { return trimFloat(x) + "pp" }) }}
	plainUnit   = unit{value: trimFloat, diff: func(v float64) string { return signed(v, trimFloat) }}
	probUnit    = unit{value: fmtProb, diff: func(v float64) string { return signed(v, fmtProb) }}
)

// constraint is one limit checked against one interval.
type constraint struct {
	label    string // "ratio", "" for a difference, "value" for a guard
	est      Effect
	min, max float64 // allowed region
	show     func(float64) string
	limit    string // "1.20", "+50ms"
}

func (c constraint) violated() bool  { return c.est.Lower > c.max || c.est.Upper < c.min }
func (c constraint) satisfied() bool { return c.est.Lower >= c.min && c.est.Upper <= c.max }

func (c constraint) describe(state State) string {
	lo, hi := c.show(c.est.Lower), c.show(c.est.Upper)
	// A bound just beyond a limit would print as the limit itself: say which side it is on.
	if c.est.Lower > c.max && lo == c.show(c.max) {
		lo = ">" + lo
	}
	if c.est.Upper < c.min && hi == c.show(c.min) {
		hi = "<" + hi
	}
	body := fmt.Sprintf("%s [%s, %s]", c.show(c.est.Value), lo, hi)
	if c.label != "" {
		body = c.label + " " + body
	}
	var rel string
	switch {
	case state == Fail && c.est.Lower > c.max:
		rel = "> " + c.show(c.max) + " allowed"
	case state == Fail:
		rel = "< " + c.show(c.min) + " allowed"
	case math.IsInf(c.min, -1):
		rel = "≤ " + c.show(c.max) + " allowed"
	case math.IsInf(c.max, 1):
		rel = "≥ " + c.show(c.min) + " allowed"
	default:
		rel = "within [" + c.show(c.min) + ", " + c.show(c.max) + "] allowed"
	}
	if state == Inconclusive {
		rel = "inconclusive against " + strings.TrimSuffix(rel, " allowed")
	}
	return body + " " + rel
}

// judge fills the outcome's effects, state and reason from the two sides' estimates.
func judge(o *Outcome, t Threshold, u unit, minSamples int64, names [2]string) {
	effects(o)
	judgeEffects(o, t, u, minSamples, names)
}

// effects bounds the ratio and the difference from the two sides' intervals.
func effects(o *Outcome) {
	b, c := o.Baseline, o.Candidate
	o.Ratio = Effect{Value: ratio(c.Value, b.Value), Lower: ratioLower(c.Lower, b.Upper), Upper: ratioUpper(c.Upper, b.Lower)}
	o.Diff = Effect{Value: c.Value - b.Value, Lower: c.Lower - b.Upper, Upper: c.Upper - b.Lower}
}

// judgeEffects fills the outcome's state and reason from its effects: it fails when an effect
// lies surely beyond a limit, passes when every effect lies surely within.
func judgeEffects(o *Outcome, t Threshold, u unit, minSamples int64, names [2]string) {
	b, c := o.Baseline, o.Candidate
	o.Threshold = t

	head := fmt.Sprintf("%s %s %s vs %s %s", o.Metric, names[1], u.value(c.Value), names[0], u.value(b.Value))
	if b.N < minSamples || c.N < minSamples {
		o.State = Inconclusive
		o.Reason = fmt.Sprintf("%s: waiting for samples (%s %d, %s %d of %d)", o.Metric, names[1], c.N, names[0], b.N, minSamples)
		return
	}

	var cs []constraint
	lo, hi := math.Inf(-1), math.Inf(1)
	region := func(limit float64, inverse float64) (float64, float64) {
		switch t.Direction {
		case Decrease:
			return inverse, hi
		case Either:
			return inverse, limit
		}
		return lo, limit
	}
	if t.MaxRatio != nil {
		mn, mx := region(*t.MaxRatio, 1 / *t.MaxRatio)
		cs = append(cs, constraint{label: "ratio", est: o.Ratio, min: mn, max: mx, show: fmtRatio})
	}
	if t.MaxIncrease != nil {
		mn, mx := region(*t.MaxIncrease, -*t.MaxIncrease)
		cs = append(cs, constraint{est: o.Diff, min: mn, max: mx, show: u.diff})
	}
	if t.Max != nil {
		mn, mx := lo, *t.Max
		if t.Direction == Decrease {
			mn, mx = *t.Max, hi
		}
		cs = append(cs, constraint{label: names[1], est: Effect(Effect{c.Value, c.Lower, c.Upper}), min: mn, max: mx, show: u.value})
	}

	o.State = Pass
	var parts []string
	for _, k := range cs {
		if k.violated() {
			o.State = Fail
			o.Reason = head + ": " + k.describe(Fail)
			return
		}
		if !k.satisfied() {
			o.State = Inconclusive
		}
	}
	for _, k := range cs {
		if o.State == Pass || !k.satisfied() {
			parts = append(parts, k.describe(o.State))
		}
	}
	o.Reason = head + ": " + strings.Join(parts, "; ")
	if o.State == Inconclusive {
		o.Reason += fmt.Sprintf(" (%d vs %d samples)", c.N, b.N)
	}
}

func ratio(c, b float64) float64 {
	switch {
	case b == 0 && c == 0:
		return 1
	case b == 0:
		return math.Inf(1)
	}
	return c / b
}

// ratioLower is the smallest ratio compatible with the candidate being at least cl and the
// baseline at most bu.
func ratioLower(cl, bu float64) float64 {
	switch {
	case math.IsInf(bu, 1) || cl <= 0:
		return 0
	case bu <= 0:
		return math.Inf(1)
	}
	return cl / bu
}

// ratioUpper is the largest ratio compatible with the candidate being at most cu and the
// baseline at least bl.
func ratioUpper(cu, bl float64) float64 {
	switch {
	case cu <= 0:
		return 0
	case bl <= 0 || math.IsInf(cu, 1):
		return math.Inf(1)
	}
	return cu / bl
}

// noValue is how a number that does not exist yet (NaN: nothing observed) reads: never "NaN".
const noValue = "—"

func fmtRatio(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsNaN(v):
		return noValue
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtProb(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtSeconds(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return noValue
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	case a == 0:
		return "0ms"
	case a < 1e-3:
		return trimFloat(v*1e6) + "µs"
	case a < 1:
		return trimFloat(v*1e3) + "ms"
	}
	return trimFloat(v) + "s"
}

func fmtPercent(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return fmtRatio(v)
	}
	return fmt.Sprintf("%.2f%%", v*100)
}

// trimFloat prints 3 significant digits, without an exponent or trailing zeros.
func trimFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	case math.IsNaN(v):
		return noValue
	case v == 0:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	mag := math.Floor(math.Log10(math.Abs(v)))
	scale := math.Pow(10, 2-mag)
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}

func signed(v float64, f func(float64) string) string {
	if math.IsNaN(v) {
		return noValue
	}
	if v >= 0 {
		return "+" + f(v)
	}
	return "-" + f(-v)
}
