package compare

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// State is a check's judgement at one moment.
type State string

const (
	Pass         State = "pass"         // the interval lies inside the allowed region
	Fail         State = "fail"         // the interval lies outside it: a regression, with evidence
	Inconclusive State = "inconclusive" // not decided yet (too few samples, or the interval straddles a limit)
	// Error: the check's source is failing and left it no usable data. compare never returns
	// it; the engine sets it on a check whose queries fail. Like Inconclusive it is no
	// evidence either way: it never passes.
	Error State = "error"
)

// Direction says which way is a regression.
type Direction string

const (
	Increase Direction = "increase" // higher is worse (latency, errors): the default
	Decrease Direction = "decrease" // lower is worse (throughput, success count)
	Either   Direction = "either"   // any change beyond the limits is a regression
)

// Side is one of the two environments being compared.
type Side int

const (
	Baseline Side = iota
	Candidate
)

func (s Side) String() string {
	if s == Candidate {
		return "candidate"
	}
	return "baseline"
}

// Config is what every check needs besides its threshold.
type Config struct {
	// Name of the check, for reasons ("p95").
	Name string
	// Alpha is the probability of a false fail over the whole analysis, however often the check
	// is evaluated (default 0.01).
	Alpha float64
	// PassAlpha bounds a false pass the same way (default Alpha). An analysis that needs every
	// check to pass before it promotes can give each its whole budget, where the budget for
	// false fails is shared among the checks that may roll back.
	PassAlpha float64
	// Block is the length of a block of evidence, for checks fed observation by observation
	// with the time reported through Advance (0: no blocks). Evidence within one block counts
	// for at most a fixed amount, so a burst of correlated observations cannot decide alone.
	Block time.Duration
	// MinSamples per side before any decision (default 20).
	MinSamples int64
	// BaselineName and CandidateName appear in reasons ("blue", "green").
	BaselineName, CandidateName string
}

// ErrConfig reports an invalid check configuration.
var ErrConfig = errors.New("invalid check configuration")

func (c Config) withDefaults() (Config, error) {
	if c.Alpha == 0 {
		c.Alpha = 0.01
	}
	if !(c.Alpha > 0 && c.Alpha < 0.5) {
		return c, fmt.Errorf("%w: alpha must be in (0, 0.5), got %v", ErrConfig, c.Alpha)
	}
	if c.PassAlpha == 0 {
		c.PassAlpha = c.Alpha
	}
	if !(c.PassAlpha > 0 && c.PassAlpha < 0.5) {
		return c, fmt.Errorf("%w: passAlpha must be in (0, 0.5), got %v", ErrConfig, c.PassAlpha)
	}
	if c.Block < 0 {
		return c, fmt.Errorf("%w: block must not be negative, got %v", ErrConfig, c.Block)
	}
	if c.MinSamples == 0 {
		c.MinSamples = 20
	}
	if c.MinSamples < 1 {
		return c, fmt.Errorf("%w: minSamples must be at least 1, got %d", ErrConfig, c.MinSamples)
	}
	if c.BaselineName == "" {
		c.BaselineName = "baseline"
	}
	if c.CandidateName == "" {
		c.CandidateName = "candidate"
	}
	return c, nil
}

// Threshold is what a check allows. Every limit that is set must hold: a check fails when any
// of them is violated with evidence, and passes when all are met with evidence.
type Threshold struct {
	// MaxRatio: candidate ÷ baseline at most this (1.2 = 20% worse). For Decrease, at least 1/MaxRatio.
	MaxRatio *float64 `json:"maxRatio,omitempty"`
	// MaxIncrease: candidate − baseline at most this, in the check's unit (seconds; a fraction
	// for error rates: 0.005 = 0.5 percentage points). For Decrease, at least −MaxIncrease.
	MaxIncrease *float64 `json:"maxIncrease,omitempty"`
	// Max is an absolute guard on the candidate alone (an SLO): its value at most this
	// (at least this, for Decrease).
	Max *float64 `json:"max,omitempty"`
	// Direction of a regression (default Increase).
	Direction Direction `json:"direction,omitempty"`
}

// F returns a pointer to v, for Threshold literals.
func F(v float64) *float64 { return &v }

func (t Threshold) validate() (Threshold, error) {
	if t.Direction == "" {
		t.Direction = Increase
	}
	switch t.Direction {
	case Increase, Decrease, Either:
	default:
		return t, fmt.Errorf("%w: direction must be increase, decrease or either, got %q", ErrConfig, t.Direction)
	}
	if t.MaxRatio == nil && t.MaxIncrease == nil && t.Max == nil {
		return t, fmt.Errorf("%w: set at least one of maxRatio, maxIncrease, max", ErrConfig)
	}
	if t.MaxRatio != nil && !(*t.MaxRatio > 0 && !math.IsInf(*t.MaxRatio, 0)) {
		return t, fmt.Errorf("%w: maxRatio must be a positive number, got %v", ErrConfig, *t.MaxRatio)
	}
	if t.MaxRatio != nil && t.Direction != Increase && *t.MaxRatio < 1 {
		return t, fmt.Errorf("%w: maxRatio below 1 with direction %s would forbid the baseline's own value", ErrConfig, t.Direction)
	}
	for name, v := range map[string]*float64{"maxIncrease": t.MaxIncrease, "max": t.Max} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return t, fmt.Errorf("%w: %s must be a finite number", ErrConfig, name)
		}
	}
	if t.MaxIncrease != nil && *t.MaxIncrease < 0 {
		return t, fmt.Errorf("%w: maxIncrease must not be negative, got %v", ErrConfig, *t.MaxIncrease)
	}
	return t, nil
}

// Estimate is one side's value with its interval.
type Estimate struct {
	N     int64   `json:"n"`
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Effect is the candidate compared with the baseline, with the interval the check is sure of.
type Effect struct {
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Outcome is a check's state at one evaluation, with everything needed to explain it.
type Outcome struct {
	Check     string   `json:"check"`
	Kind      string   `json:"kind"`   // error-rate, latency, shift, values
	Metric    string   `json:"metric"` // "p95", "error rate", "P(candidate > baseline)", …
	State     State    `json:"state"`
	Baseline  Estimate `json:"baseline"`
	Candidate Estimate `json:"candidate"`
	Ratio     Effect   `json:"ratio"`      // candidate ÷ baseline
	Diff      Effect   `json:"difference"` // candidate − baseline
	// Statistic is the quantity judged when it is neither the ratio nor the difference: the
	// shift check's P(candidate > baseline), the value check's share of intervals over the limit.
	Statistic *Effect   `json:"statistic,omitempty"`
	Threshold Threshold `json:"threshold"`
	Alpha     float64   `json:"alpha"`
	Reason    string    `json:"reason"` // one line with the resolved values
}

// MarshalJSON writes the exact form (outcome_json.go): NaN as null, infinite bounds (not yet
// bounded) as "Inf" and "-Inf", so that an outcome reads back identically.
func (e Estimate) MarshalJSON() ([]byte, error) { return ExactEstimate(e).MarshalJSON() }

// MarshalJSON writes the exact form.
func (e Effect) MarshalJSON() ([]byte, error) { return ExactEffect(e).MarshalJSON() }
