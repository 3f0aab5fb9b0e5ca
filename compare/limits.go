package compare

import "math"

// levels are the levels of a check's sequential tests: every test that can fail the check
// shares α (a fail needs only one of them to reject), every test that can pass it gets
// PassAlpha (a pass needs all of them). lower and upper are the levels of the displayed
// interval's ends, those of the tests each end decides.
type levels struct{ fail, pass, lower, upper float64 }

func newLevels(cfg Config, t Threshold) levels {
	n := 0
	for _, set := range []bool{t.MaxRatio != nil, t.MaxIncrease != nil} {
		if set {
			n++
			if t.Direction == Either {
				n++
			}
		}
	}
	if t.Max != nil {
		n++
	}
	l := levels{fail: cfg.Alpha / float64(max(n, 1)), pass: cfg.PassAlpha}
	switch t.Direction {
	case Increase:
		l.lower, l.upper = l.fail, l.pass
	case Decrease:
		l.lower, l.upper = l.pass, l.fail
	default:
		l.lower, l.upper = math.Min(l.fail, l.pass), math.Min(l.fail, l.pass)
	}
	return l
}

// limitCheck is one limit's region for one effect, with what the exact tests at its edges
// say: the effect surely beyond the upper edge or below the lower one (a fail), surely within
// each edge (a pass needs both).
type limitCheck struct {
	which           string // "ratio", "diff", "guard"
	lo, hi          float64
	overHi, underLo bool // violated
	inHi, inLo      bool // satisfied
}

// allowed is the allowed region of a ratio or difference limit, as judge has it.
func allowed(d Direction, which string, limit, inverse float64) limitCheck {
	l := limitCheck{which: which, lo: math.Inf(-1), hi: limit}
	switch d {
	case Decrease:
		l.lo, l.hi = inverse, math.Inf(1)
	case Either:
		l.lo = inverse
	}
	return l
}

func state(ls []limitCheck) State {
	pass := true
	for _, l := range ls {
		if l.overHi || l.underLo {
			return Fail
		}
		pass = pass && l.inHi && l.inLo
	}
	if pass {
		return Pass
	}
	return Inconclusive
}

// align moves the displayed interval's ends, where bisection left them a hair on the wrong side
// of a limit, to agree with the exact tests: the reason then says what was decided.
func (l limitCheck) align(e *Effect) {
	if !math.IsInf(l.hi, 1) {
		switch {
		case l.overHi && !(e.Lower > l.hi):
			e.Lower = math.Nextafter(l.hi, math.Inf(1))
		case !l.overHi && e.Lower > l.hi:
			e.Lower = l.hi
		}
		switch {
		case l.inHi && e.Upper > l.hi:
			e.Upper = l.hi
		case !l.inHi && e.Upper <= l.hi:
			e.Upper = math.Nextafter(l.hi, math.Inf(1))
		}
	}
	if !math.IsInf(l.lo, -1) {
		switch {
		case l.underLo && !(e.Upper < l.lo):
			e.Upper = math.Nextafter(l.lo, math.Inf(-1))
		case !l.underLo && e.Upper < l.lo:
			e.Upper = l.lo
		}
		switch {
		case l.inLo && e.Lower < l.lo:
			e.Lower = l.lo
		case !l.inLo && e.Lower >= l.lo:
			e.Lower = math.Nextafter(l.lo, math.Inf(-1))
		}
	}
}

// alignAll makes the displayed intervals agree with the decisions: each limit's bound moves to
// where its test put it, on the ratio, the difference or the candidate's own value.
func alignAll(o *Outcome, ls []limitCheck) {
	for _, l := range ls {
		switch l.which {
		case "ratio":
			l.align(&o.Ratio)
		case "diff":
			l.align(&o.Diff)
		default:
			e := Effect{Value: o.Candidate.Value, Lower: o.Candidate.Lower, Upper: o.Candidate.Upper}
			l.align(&e)
			o.Candidate.Lower, o.Candidate.Upper = e.Lower, e.Upper
		}
	}
}
