package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/greenlight/greenlight/verdict"
)

// decidingLines says, under the live status block's table, each check's reason and, for each
// limit it is judged by, the limit and how far its interval still is from deciding: how far
// the end that must clear the limit for a pass has to move, and the end that must cross it for
// a fail.
func decidingLines(checks []verdict.CheckResult) string {
	var b strings.Builder
	for _, c := range checks {
		fmt.Fprintf(&b, "  %s: %s\n", checkLabel(c), cleanText(c.Reason))
		for _, l := range c.Limits() {
			fn := effectFormatN(c, l.Effect)
			f := func(x float64) string { return fn(x, 0) }
			lo, hi := f(l.Interval.Lower), f(l.Interval.Upper)
			if l.Interval.Lower > l.Max {
				lo = beside(fn, l.Interval.Lower, l.Max)
			}
			if l.Interval.Upper < l.Min {
				hi = beside(fn, l.Interval.Upper, l.Min)
			}
			iv := fmt.Sprintf("[%s, %s]", lo, hi)
			var where string
			switch {
			case l.Violated():
				where = "beyond the limit: fails"
			case l.Satisfied():
				where = "within the limit: passes"
			default:
				var parts []string
				if !math.IsInf(l.Max, 1) {
					parts = append(parts, fmt.Sprintf("to pass the upper end must come %s lower, to fail the lower end %s higher",
						distance(f, l.Interval.Upper-l.Max), distance(f, l.Max-l.Interval.Lower)))
				}
				if !math.IsInf(l.Min, -1) {
					parts = append(parts, fmt.Sprintf("to pass the lower end must come %s higher, to fail the upper end %s lower",
						distance(f, l.Min-l.Interval.Lower), distance(f, l.Interval.Upper-l.Min)))
				}
				where = "inconclusive: " + strings.Join(parts, "; ")
			}
			fmt.Fprintf(&b, "    %s %s, limit %s — %s\n", l.Effect, iv, limitText(l, f), where)
		}
	}
	return b.String()
}

// checkLabel names a check, marking an advisory one (it never decides).
func checkLabel(c verdict.CheckResult) string {
	name := cleanText(c.Name)
	if !c.Critical {
		name += " (advisory)"
	}
	return name
}

func limitText(l verdict.Limit, f func(float64) string) string {
	switch {
	case !math.IsInf(l.Min, -1) && !math.IsInf(l.Max, 1):
		return fmt.Sprintf("within [%s, %s]", f(l.Min), f(l.Max))
	case !math.IsInf(l.Max, 1):
		return "≤ " + f(l.Max)
	}
	return "≥ " + f(l.Min)
}

// distance is how far an end has to move, in the effect's unit (without a sign).
func distance(f func(float64) string, d float64) string {
	if math.IsInf(d, 0) || math.IsNaN(d) {
		return "an unbounded way"
	}
	return strings.TrimLeft(f(math.Abs(d)), "+×")
}

// beside writes bound x, beyond limit, with the digits that keep the comparison visibly true
// (×1.5003 beside a limit of ×1.50), or marked with its side when even 6 more digits do not.
func beside(f func(float64, int) string, x, limit float64) string {
	for extra := 0; extra <= 6; extra++ {
		if s := f(x, extra); s != f(limit, extra) {
			return s
		}
	}
	if x > limit {
		return ">" + f(x, 0)
	}
	return "<" + f(x, 0)
}

// effectFormat formats a limit's effect in the check's unit.
func effectFormat(c verdict.CheckResult, effect string) func(float64) string {
	f := effectFormatN(c, effect)
	return func(x float64) string { return f(x, 0) }
}

// effectFormatN is effectFormat with extra digits.
func effectFormatN(c verdict.CheckResult, effect string) func(float64, int) string {
	trim := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	var f func(float64, int) string
	switch {
	case effect == verdict.EffectRatio:
		f = func(x float64, e int) string { return "×" + trim(x, 2+e) }
	case effect == verdict.EffectStatistic && c.Kind == "values":
		f = func(x float64, e int) string { return trim(x*100, 1+e) + "%" }
	case effect == verdict.EffectStatistic:
		f = func(x float64, e int) string { return trim(x, 2+e) }
	case c.Kind == "error-rate" && effect == verdict.EffectDiff:
		f = func(x float64, e int) string { return fmt.Sprintf("%+.*fpp", 2+e, x*100) }
	case c.Kind == "error-rate":
		f = func(x float64, e int) string { return trim(x*100, 2+e) + "%" }
	case c.Kind == "latency" && effect == verdict.EffectDiff:
		f = func(x float64, e int) string { return fmt.Sprintf("%+.*fms", 1+e, x*1000) }
	case c.Kind == "latency":
		f = func(x float64, e int) string { return trim(x*1000, 1+e) + "ms" }
	default:
		f = func(x float64, e int) string { return strconv.FormatFloat(x, 'g', 4+e, 64) }
	}
	return func(x float64, e int) string {
		switch {
		case math.IsNaN(x):
			return "—"
		case math.IsInf(x, 1):
			return "∞"
		case math.IsInf(x, -1):
			return "-∞"
		}
		return f(x, e)
	}
}

// cleanText keeps a line of text on its line: control characters, which could come from a
// response, are dropped.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
