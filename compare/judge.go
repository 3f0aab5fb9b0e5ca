package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// format writes a number of one unit, with extra digits beyond the usual when a bound must be
// told apart from the limit it is compared with.
type format func(v float64, extra int) string

// unit formats a check's values in reasons.
type unit struct {
	value format // a level: "412ms", "3.10%"
	diff  format // a signed difference: "+214ms", "+2.90pp"
}

var (
	secondsUnit = unit{value: fmtSeconds, diff: signedFormat(fmtSeconds)}
	rateUnit    = unit{value: fmtPercent, diff: signedFormat(func(v float64, extra int) string { return trimFloat(v*100, extra) + "pp" })}
	plainUnit   = unit{value: trimFloat, diff: signedFormat(trimFloat)}
	probUnit    = unit{value: fmtProb, diff: signedFormat(fmtProb)}
)

// constraint is one limit checked against one interval.
type constraint struct {
	label    string // "ratio", "" for a difference, "value" for a guard
	est      Effect
	min, max float64 // allowed region
	show     format
	limit    string // "1.20", "+50ms"
}

// maxExtraDigits bounds the digits added to tell a bound from its limit; closer than that, the
// bound is marked with > or < instead.
const maxExtraDigits = 6

// beside writes bound v, on the far side of limit, with just enough digits for the comparison
// to read true: 1.5003 beside a limit of 1.50, not 1.50. Closer than maxExtraDigits can show, it
// is the limit marked with the side ("<1.20", ">1.20").
func (c constraint) beside(v, limit float64, mark string) string {
	shown := c.show(v, 0)
	if shown != c.show(limit, 0) {
		return shown
	}
	for extra := 1; extra <= maxExtraDigits; extra++ {
		if s := c.show(v, extra); s != c.show(limit, extra) {
			return s
		}
	}
	return mark + shown
}

func (c constraint) violated() bool  { return c.est.Lower > c.max || c.est.Upper < c.min }
func (c constraint) satisfied() bool { return c.est.Lower >= c.min && c.est.Upper <= c.max }

func (c constraint) describe(state State) string {
	lo, hi := c.show(c.est.Lower, 0), c.show(c.est.Upper, 0)
	// A bound just beyond a limit would print as the limit itself, a failure (or an interval
	// still straddling the limit) reading like equality: give it the digits that show which
	// side it is on.
	if c.est.Lower > c.max {
		lo = c.beside(c.est.Lower, c.max, ">")
	} else if c.est.Lower < c.min {
		lo = c.beside(c.est.Lower, c.min, "<")
	}
	if c.est.Upper < c.min {
		hi = c.beside(c.est.Upper, c.min, "<")
	} else if c.est.Upper > c.max {
		hi = c.beside(c.est.Upper, c.max, ">")
	}
	body := fmt.Sprintf("%s [%s, %s]", c.show(c.est.Value, 0), lo, hi)
	if c.label != "" {
		body = c.label + " " + body
	}
	var rel string
	switch {
	case state == Fail && c.est.Lower > c.max:
		rel = "> " + c.show(c.max, 0) + " allowed"
	case state == Fail:
		rel = "< " + c.show(c.min, 0) + " allowed"
	case math.IsInf(c.min, -1):
		rel = "≤ " + c.show(c.max, 0) + " allowed"
	case math.IsInf(c.max, 1):
		rel = "≥ " + c.show(c.min, 0) + " allowed"
	default:
		rel = "within [" + c.show(c.min, 0) + ", " + c.show(c.max, 0) + "] allowed"
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

	head := fmt.Sprintf("%s %s %s vs %s %s", o.Metric, names[1], u.value(c.Value, 0), names[0], u.value(b.Value, 0))
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

func fmtRatio(v float64, extra int) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsNaN(v):
		return noValue
	}
	return strconv.FormatFloat(v, 'f', 2+extra, 64)
}

func fmtProb(v float64, extra int) string {
	if math.IsNaN(v) {
		return noValue
	}
	return strconv.FormatFloat(v, 'f', 2+extra, 64)
}

func fmtSeconds(v float64, extra int) string {
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
		return trimFloat(v*1e6, extra) + "µs"
	case a < 1:
		return trimFloat(v*1e3, extra) + "ms"
	}
	return trimFloat(v, extra) + "s"
}

func fmtPercent(v float64, extra int) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return fmtRatio(v, 0)
	}
	return strconv.FormatFloat(v*100, 'f', 2+extra, 64) + "%"
}

// trimFloat prints 3 significant digits (and extra more), without an exponent or trailing zeros.
func trimFloat(v float64, extra int) string {
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
	scale := math.Pow(10, float64(2+extra)-mag)
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}

// signedFormat writes f's number with its sign: "+2.9pp", "-12ms".
func signedFormat(f format) format {
	return func(v float64, extra int) string {
		if math.IsNaN(v) {
			return noValue
		}
		if v >= 0 {
			return "+" + f(v, extra)
		}
		return "-" + f(-v, extra)
	}
}
