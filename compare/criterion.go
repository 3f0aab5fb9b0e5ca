package compare

import (
	"fmt"
	"regexp"
	"strconv"
)

// criterionRe is Keptn's relative-criterion grammar: an operator, an optional sign, a number
// and an optional percent sign.
var criterionRe = regexp.MustCompile(`^\s*(<=|<|>=|>)\s*([+-]?)\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$`)

// ParseCriterion reads a Keptn-style criterion into a Threshold:
//
//	"<=+10%"  candidate at most 10% above the baseline     → MaxRatio 1.10, increase
//	"<+5"     candidate at most 5 above the baseline       → MaxIncrease 5, increase
//	">=-10%"  candidate at most 10% below the baseline     → MaxRatio 1/0.9, decrease
//	">-5"     candidate at most 5 below the baseline       → MaxIncrease 5, decrease
//	"<=800"   candidate at most 800, whatever the baseline → Max 800 (a guard)
//	">=0.99"  candidate at least 0.99                      → Max 0.99, decrease
//
// Strict and non-strict operators mean the same here: with intervals, equality has no weight.
func ParseCriterion(s string) (Threshold, error) {
	m := criterionRe.FindStringSubmatch(s)
	if m == nil {
		return Threshold{}, fmt.Errorf("%w: criterion %q: want an operator, an optional sign, a number and an optional %%, e.g. <=+10%%", ErrConfig, s)
	}
	op, sign, pct := m[1], m[2], m[4] == "%"
	v, _ := strconv.ParseFloat(m[3], 64)
	upper := op == "<" || op == "<="
	t := Threshold{Direction: Increase}
	if !upper {
		t.Direction = Decrease
	}
	switch {
	case sign == "" && pct:
		return Threshold{}, fmt.Errorf("%w: criterion %q: a percentage needs a sign (+10%% or -10%%) to say it is relative", ErrConfig, s)
	case sign == "":
		t.Max = F(v)
	case upper != (sign == "+"):
		return Threshold{}, fmt.Errorf("%w: criterion %q would demand an improvement; checks judge regressions only: use <=+N%% (higher is worse) or >=-N%% (lower is worse)", ErrConfig, s)
	case pct && upper:
		t.MaxRatio = F(1 + v/100)
	case pct:
		if v >= 100 {
			return Threshold{}, fmt.Errorf("%w: criterion %q: a decrease of 100%% or more allows anything", ErrConfig, s)
		}
		t.MaxRatio = F(1 / (1 - v/100))
	default:
		t.MaxIncrease = F(v)
	}
	return t.validate()
}
