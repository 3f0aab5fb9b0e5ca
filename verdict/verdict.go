package verdict

import (
	"fmt"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
)

// Decision is what an analysis says about the candidate.
type Decision string

const (
	Running      Decision = "running" // not decided yet (the daemon reports it)
	Promote      Decision = "promote"
	Rollback     Decision = "rollback"
	Inconclusive Decision = "inconclusive"
	// Interrupted: the run was stopped (SIGINT, SIGTERM, an abort) before a verdict. It says
	// nothing about the candidate: neither promote nor rollback.
	Interrupted Decision = "interrupted"
	// Invalid: the input (a spec, a flag, a file) was invalid and nothing ran (exit 3); the
	// verdict's Problems say what to fix. Only the command line writes it, into the reports
	// it was asked for, so that CI shows why the step failed.
	Invalid Decision = "error"
)

// Phase is the stage of an analysis.
type Phase string

const (
	PhaseSmoke    Phase = "smoke"    // the smoke gate on the candidate
	PhaseAnalysis Phase = "analysis" // monitoring and comparing
	PhaseWatch    Phase = "watch"    // after promote, watching for late regressions
	PhaseDone     Phase = "done"
)

// CheckResult is one check's outcome in a verdict.
type CheckResult struct {
	compare.Outcome
	Name     string   `json:"name"`
	Critical bool     `json:"critical"`
	Source   string   `json:"source"`             // "monitor browse", "monitor browse, step login", "prometheus"
	Error    string   `json:"error,omitempty"`    // the source's last failure, when it failed
	Warnings []string `json:"warnings,omitempty"` // what the source warned about (partial data)
	// Evidence is what the check's data showed of the candidate itself working: the absolute
	// floor a promote needs besides the relative comparison.
	Evidence *Evidence `json:"evidence,omitempty"`
	// Decided is how long into its phase the check reached its state, when it passed or
	// failed; zero while it is not decided. JSON: decidedAfterMs.
	Decided time.Duration `json:"-"`
}

// Evidence counts the candidate's observations in one check's data.
type Evidence struct {
	// Observed is how many candidate observations the check saw: probes, requests, spans,
	// histogram counts or series points.
	Observed int64 `json:"observed"`
	// Succeeded is how many of them succeeded (passed probes, non-error spans, requests that
	// did not fail); nil when the data cannot tell (histograms, value series).
	Succeeded *int64 `json:"succeeded,omitempty"`
}

// ErrorRate is the failed share of the observations, or -1 when unknown or empty.
func (e Evidence) ErrorRate() float64 {
	if e.Succeeded == nil || e.Observed == 0 {
		return -1
	}
	return float64(e.Observed-*e.Succeeded) / float64(e.Observed)
}

// Environment is one side of the comparison.
type Environment struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Verdict is the decision of one analysis with everything that explains it.
type Verdict struct {
	Analysis  string        `json:"analysis"`
	Decision  Decision      `json:"verdict"`
	Reason    string        `json:"reason"`
	Phase     Phase         `json:"phase"` // where it was decided
	Baseline  Environment   `json:"baseline"`
	Candidate Environment   `json:"candidate"`
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"-"`
	Checks    []CheckResult `json:"checks"`
	// Smoke is the smoke gate's report (nil when the analysis has no smoke suites).
	Smoke *Report `json:"smoke,omitempty"`
	// Undecided is true when the analysis ended inconclusive and Decision is what the policy
	// (onInconclusive) made of it.
	Undecided bool `json:"undecided,omitempty"`
	// Watch is how long the candidate was watched after promote (0 when not).
	Watch time.Duration `json:"-"`
	// PromotedAt is when the analysis decided promote (for a watch alone, when it began): set
	// on every verdict that reached a promote, whatever the watch after it made of it — a
	// rollback in the watch, or a watch interrupted with the promote standing.
	PromotedAt time.Time `json:"promotedAt,omitzero"`
	// Diagnosis names what kept the environments from being measured: "blue unreachable:
	// connection refused, 40 of 40 probes".
	Diagnosis []string `json:"diagnosis,omitempty"`
	// Override is set when a person decided instead of the analysis (audited: who, why, when,
	// and what the analysis had said).
	Override *Override `json:"override,omitempty"`
	// Problems are what made the input invalid (Decision Invalid), one per line, each
	// "file:line:col: message" for a spec.
	Problems []string `json:"problems,omitempty"`
}

// InvalidInput is the verdict of a run that stopped on invalid input: reason is the error's
// first line, and problems its other lines (or the first, when it has only one).
func InvalidInput(analysis, message string, at time.Time) *Verdict {
	lines := strings.Split(strings.TrimSpace(message), "\n")
	reason := strings.TrimSuffix(lines[0], ":")
	problems := lines[1:]
	if len(problems) == 0 {
		problems = lines
	}
	return &Verdict{Analysis: analysis, Decision: Invalid, Reason: reason, Phase: PhaseDone, StartedAt: at, Checks: []CheckResult{}, Problems: problems}
}

// Override is a decision made by hand over the analysis's own.
type Override struct {
	Decision Decision  `json:"decision"`
	By       string    `json:"by"`
	Why      string    `json:"why"`
	At       time.Time `json:"at"`
	// Was and WasReason are the analysis's own decision and reason ("interrupted" when it was
	// still running).
	Was       Decision `json:"was"`
	WasReason string   `json:"wasReason"`
}

// ExitCode maps the decision: 0 promote, 1 rollback, 2 inconclusive, 3 invalid input.
func (v *Verdict) ExitCode() ExitCode {
	switch v.Decision {
	case Promote:
		return ExitPass
	case Rollback:
		return ExitFail
	case Interrupted:
		return ExitInterrupted
	case Invalid:
		return ExitInvalid
	}
	return ExitInconclusive
}

// Aggregate applies worst-wins to the checks: a failed critical check means rollback; every
// critical check passed means the candidate may be promoted (the caller still applies the
// minimum duration); anything else is undecided (Running). Advisory checks are reported and
// never decide. With no critical check nothing can justify a promote.
func Aggregate(checks []CheckResult) (Decision, string) {
	var failed, waiting []string
	critical := 0
	for _, c := range checks {
		if !c.Critical {
			continue
		}
		critical++
		switch c.State {
		case compare.Fail:
			failed = append(failed, c.Name+": "+c.Reason)
		case compare.Error:
			waiting = append(waiting, c.Name+" (source failing)")
		case compare.Inconclusive:
			waiting = append(waiting, c.Name)
		}
	}
	switch {
	case len(failed) > 0:
		return Rollback, strings.Join(failed, "; ")
	case critical == 0:
		return Running, "no critical check: nothing can justify a promote"
	case len(waiting) > 0:
		return Running, "inconclusive: " + strings.Join(waiting, ", ")
	}
	switch critical {
	case 1:
		return Promote, "the critical check passed"
	case 2:
		return Promote, "both critical checks passed"
	}
	return Promote, fmt.Sprintf("all %d critical checks passed", critical)
}

// Advisories lists the reasons of failed non-critical checks, for reports.
func Advisories(checks []CheckResult) []string {
	var out []string
	for _, c := range checks {
		if !c.Critical && c.State == compare.Fail {
			out = append(out, c.Name+": "+c.Reason)
		}
	}
	return out
}
