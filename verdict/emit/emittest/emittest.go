// Package emittest holds realistic events for the tests of emit and its integrations: one of
// each type, with verdicts whose checks carry every kind of number (NaN for no value yet,
// unbounded intervals), a smoke report with failures, an override and labels.
package emittest

import (
	"math"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// Analysis is the analysis every sample event is about.
func Analysis() emit.Analysis {
	return emit.Analysis{
		ID: "an_01J9ZQ4T7W", Spec: "checkout",
		Baseline:  verdict.Environment{Name: "blue", URL: "http://blue.checkout.svc:8080"},
		Candidate: verdict.Environment{Name: "green", URL: "http://green.checkout.svc:8080"},
		Labels:    map[string]string{"rollout": "checkout", "podTemplateHash": "6d4cf56db6"},
		StartedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// Smoke is a smoke gate whose login step failed on green.
func Smoke() *verdict.Report {
	at := time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)
	return &verdict.Report{Tool: "greenlight", Version: "0.1.0", StartedAt: at, Duration: 1200 * time.Millisecond, Suites: []verdict.SuiteReport{{
		Name: "checkout-smoke", Environment: "green", URL: "http://green.checkout.svc:8080", Status: verdict.StatusFailed, StartedAt: at,
		Steps: []verdict.StepReport{
			{Name: "health", Kind: "http", Status: verdict.StatusPassed, StatusCode: 200},
			{Name: "login", Kind: "http", Status: verdict.StatusFailed, StatusCode: 500, Error: "status == 200: got 500"},
			{Name: "profile", Kind: "http", Status: verdict.StatusSkipped},
		},
	}}}
}

// Checks are a failed latency check, an undecided error-rate check (no value yet: NaN, an
// unbounded interval) and a passed advisory shift check.
func Checks() []verdict.CheckResult {
	nan, inf := math.NaN(), math.Inf(1)
	ok := int64(398)
	return []verdict.CheckResult{
		{
			Name: "profile-p95", Critical: true, Source: "monitor journey, step profile",
			Evidence: &verdict.Evidence{Observed: 400},
			Outcome: compare.Outcome{
				Check: "profile-p95", Kind: "latency", Metric: "p95", State: compare.Fail, Alpha: 0.01,
				Baseline:  compare.Estimate{N: 400, Value: 0.0303, Lower: 0.0291, Upper: 0.0316},
				Candidate: compare.Estimate{N: 400, Value: 0.0415, Lower: 0.0398, Upper: 0.0431},
				Ratio:     compare.Effect{Value: 1.37, Lower: 1.32, Upper: 1.45},
				Diff:      compare.Effect{Value: 0.0112, Lower: 0.0094, Upper: 0.0131},
				Threshold: compare.Threshold{MaxRatio: compare.F(1.2), Direction: compare.Increase},
				Reason:    "p95 green 41.5ms vs blue 30.3ms: ratio 1.37 [1.32, 1.45] > 1.20 allowed",
			},
		},
		{
			Name: "order-errors", Critical: true, Source: "prometheus",
			Warnings: []string{"2 of 60 points missing"},
			Evidence: &verdict.Evidence{Observed: 400, Succeeded: &ok},
			Outcome: compare.Outcome{
				Check: "order-errors", Kind: "error-rate", Metric: "error rate", State: compare.Inconclusive, Alpha: 0.01,
				Baseline:  compare.Estimate{N: 0, Value: nan, Lower: 0, Upper: inf},
				Candidate: compare.Estimate{N: 400, Value: 0.005, Lower: 0, Upper: 0.021},
				Ratio:     compare.Effect{Value: nan, Lower: 0, Upper: inf},
				Diff:      compare.Effect{Value: nan, Lower: math.Inf(-1), Upper: inf},
				Threshold: compare.Threshold{MaxIncrease: compare.F(0.01), Max: compare.F(0.05), Direction: compare.Increase},
				Reason:    "error rate green 0.50% vs blue —: undecided",
			},
		},
		{
			Name: "latency-shift", Critical: false, Source: "monitor journey",
			Outcome: compare.Outcome{
				Check: "latency-shift", Kind: "shift", Metric: "P(green > blue)", State: compare.Pass, Alpha: 0.05,
				Baseline:  compare.Estimate{N: 400, Value: 0.03, Lower: 0.029, Upper: 0.031},
				Candidate: compare.Estimate{N: 400, Value: 0.031, Lower: 0.03, Upper: 0.032},
				Ratio:     compare.Effect{Value: 1.03, Lower: 0.98, Upper: 1.08},
				Diff:      compare.Effect{Value: 0.001, Lower: -0.001, Upper: 0.002},
				Statistic: &compare.Effect{Value: 0.52, Lower: 0.47, Upper: 0.57},
				Threshold: compare.Threshold{MaxIncrease: compare.F(0.1), Direction: compare.Either},
				Reason:    "P(green > blue) 0.52 [0.47, 0.57] within 0.50 ± 0.10",
			},
		},
	}
}

// Verdict is a rollback decided in the analysis phase.
func Verdict() *verdict.Verdict {
	a := Analysis()
	return &verdict.Verdict{
		Analysis: a.Spec, Decision: verdict.Rollback, Phase: verdict.PhaseAnalysis,
		Reason:    "profile-p95: p95 green 41.5ms vs blue 30.3ms: ratio 1.37 [1.32, 1.45] > 1.20 allowed",
		Baseline:  a.Baseline,
		Candidate: a.Candidate,
		StartedAt: a.StartedAt, Duration: 71*time.Second + 140*time.Millisecond,
		Checks:    Checks(),
		Diagnosis: []string{"green: 2 of 400 probes timed out"},
	}
}

// Events returns one event of each type, in the order an analysis meets them.
func Events() []emit.Event {
	a := Analysis()
	at := a.StartedAt
	decided := Verdict()

	watch := Verdict()
	watch.Phase, watch.Watch = verdict.PhaseWatch, 5*time.Minute

	aborted := &verdict.Verdict{
		Analysis: a.Spec, Decision: verdict.Interrupted, Reason: "aborted by deploy-bot: release cancelled",
		Baseline: a.Baseline, Candidate: a.Candidate, StartedAt: at, Duration: 3 * time.Second,
	}

	overridden := Verdict()
	overridden.Undecided = true
	overridden.Decision = verdict.Promote
	overridden.Override = &verdict.Override{
		Decision: verdict.Promote, By: "alice@example.com", Why: "latency regression expected: cache warm-up",
		At: at.Add(2 * time.Minute), Was: verdict.Rollback, WasReason: decided.Reason,
	}

	return []emit.Event{
		{Type: emit.Started, Time: at, Analysis: a},
		{Type: emit.SmokeDone, Time: at.Add(2 * time.Second), Analysis: a, Smoke: Smoke()},
		{Type: emit.Decided, Time: at.Add(71 * time.Second), Analysis: a, Verdict: decided},
		{Type: emit.WatchRegression, Time: at.Add(6 * time.Minute), Analysis: a, Verdict: watch},
		{Type: emit.Aborted, Time: at.Add(3 * time.Second), Analysis: a, Verdict: aborted, Message: "aborted by deploy-bot: release cancelled"},
		{Type: emit.Overridden, Time: at.Add(2 * time.Minute), Analysis: a, Verdict: overridden},
	}
}

// Links are link templates as a daemon would configure them.
var Links = emit.LinkTemplates{
	API:       "https://greenlight.example.com/api/v1/analyses/{id}",
	Dashboard: "https://greenlight.example.com/analyses/{id}",
}
