package verdict

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the result of one step or one suite run.
type Status string

const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped" // a step not run because an earlier step failed
	StatusError   Status = "error"   // could not run (connection refused, timeout, template error)
)

// Report is the result of one greenlight smoke run: every suite on every environment it
// ran against. Durations are marshalled to JSON as "durationMs" (see [WriteJSON]).
type Report struct {
	Tool      string        `json:"tool"` // "greenlight"
	Version   string        `json:"version"`
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"-"`
	Suites    []SuiteReport `json:"suites"`
	// Interrupted is set when a signal stopped the run before every step ran: the failures of
	// steps cut short are greenlight's, not the environment's, and the run decides nothing.
	Interrupted bool `json:"interrupted,omitempty"`
	// Problems, when set, are why the input was invalid (exit 3): nothing ran. Only the command
	// line writes such a report, so that CI shows what to fix.
	Problems []string `json:"problems,omitempty"`
}

// SuiteReport is one suite run against one environment. A suite that ran on blue and
// green appears twice, once per environment; the renderers put such runs side by side.
type SuiteReport struct {
	Name        string        `json:"name"`
	File        string        `json:"file,omitempty"`
	Environment string        `json:"environment"`   // e.g. "blue", "green", "target"
	URL         string        `json:"url,omitempty"` // base URL, already redacted
	Status      Status        `json:"status"`
	StartedAt   time.Time     `json:"startedAt"`
	Duration    time.Duration `json:"-"`
	Error       string        `json:"error,omitempty"` // suite-level error, e.g. "suite timeout 30s exceeded"
	Steps       []StepReport  `json:"steps"`
}

// StepReport is one step of a suite run.
type StepReport struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`                  // "http"
	Environment string            `json:"environment,omitempty"` // set when the step ran on another environment than its suite
	Status      Status            `json:"status"`
	Always      bool              `json:"always,omitempty"` // cleanup step that runs even after a failure
	Duration    time.Duration     `json:"-"`
	Attempts    int               `json:"attempts,omitempty"`
	Request     string            `json:"request,omitempty"` // "POST http://127.0.0.1:8080/api/orders", already redacted
	StatusCode  int               `json:"statusCode,omitempty"`
	TraceID     string            `json:"traceId,omitempty"`
	Error       string            `json:"error,omitempty"`
	Conditions  []ConditionReport `json:"conditions,omitempty"`
	Captured    []string          `json:"captured,omitempty"` // names only: values may be tokens
}

// ConditionReport is one expectation of a step and whether it held.
type ConditionReport struct {
	Expression string `json:"expression"`       // as written: "status == 200"
	Passed     bool   `json:"passed"`           // whether it held
	Detail     string `json:"detail,omitempty"` // resolved values when it failed: "status (500) == 200"
}

// Passed reports whether every suite run passed: its status is passed, it has no
// suite-level error and none of its steps failed or errored. A report without suites has
// not passed, because nothing was shown to work.
func (r *Report) Passed() bool {
	if len(r.Suites) == 0 {
		return false
	}
	for i := range r.Suites {
		if !r.Suites[i].passed() {
			return false
		}
	}
	return true
}

// Counts counts steps over all suite runs by status. A step whose status is none of the
// known ones counts as errored, so that a malformed step can never pass. Suite-level
// errors are not steps and are not counted here.
func (r *Report) Counts() (passed, failed, errored, skipped int) {
	for _, s := range r.Suites {
		for _, st := range s.Steps {
			switch st.Status {
			case StatusPassed:
				passed++
			case StatusFailed:
				failed++
			case StatusSkipped:
				skipped++
			default:
				errored++
			}
		}
	}
	return passed, failed, errored, skipped
}

func (s *SuiteReport) passed() bool {
	if s.Status != StatusPassed || s.Error != "" {
		return false
	}
	for i := range s.Steps {
		if s.Steps[i].failing() {
			return false
		}
	}
	return true
}

// unexplained reports whether the run did not pass although no step says why, as after
// a suite timeout between steps. Renderers then show the suite itself as the failure, so
// that a failing exit code never comes with an all-green report.
func (s *SuiteReport) unexplained() bool {
	if s.passed() {
		return false
	}
	for i := range s.Steps {
		if s.Steps[i].failing() {
			return false
		}
	}
	return true
}

// suiteError is the message shown for a run's own failure, or "" when it has none.
func (s *SuiteReport) suiteError() string {
	switch {
	case s.Error != "":
		return s.Error
	case s.unexplained():
		return fmt.Sprintf("suite %s with no failing step", statusWord(s.Status))
	}
	return ""
}

func (st *StepReport) failing() bool {
	return st.Status != StatusPassed && st.Status != StatusSkipped
}

// failedConditions returns, for each condition that did not hold, its resolved detail
// or, when there is none, its expression.
func (st *StepReport) failedConditions() []string {
	var out []string
	for _, c := range st.Conditions {
		if c.Passed {
			continue
		}
		if c.Detail != "" {
			out = append(out, c.Detail)
		} else {
			out = append(out, c.Expression)
		}
	}
	return out
}

func statusWord(s Status) string {
	if s == "" {
		return "without status"
	}
	return string(s)
}

// suiteGroup is one suite name with its runs, one per environment, in report order.
type suiteGroup struct {
	name string
	runs []*SuiteReport
}

func groupSuites(suites []SuiteReport) []suiteGroup {
	var groups []suiteGroup
	index := map[string]int{}
	for i := range suites {
		s := &suites[i]
		g, ok := index[s.Name]
		if !ok {
			g = len(groups)
			index[s.Name] = g
			groups = append(groups, suiteGroup{name: s.Name})
		}
		groups[g].runs = append(groups[g].runs, s)
	}
	return groups
}

// stepRow is one step across the runs of a group; cells[i] is nil when run i has no
// such step (it was not reached, or the suites differ).
type stepRow struct {
	name   string
	always bool
	cells  []*StepReport
}

// stepRows lines up the steps of several runs of one suite by name. A name used twice in
// a suite matches by occurrence, so the second "poll" of blue faces the second of green.
func stepRows(runs []*SuiteReport) []stepRow {
	var rows []stepRow
	index := map[string]int{}
	for col, run := range runs {
		seen := map[string]int{}
		for i := range run.Steps {
			st := &run.Steps[i]
			key := st.Name + "\x00" + strconv.Itoa(seen[st.Name])
			seen[st.Name]++
			r, ok := index[key]
			if !ok {
				r = len(rows)
				index[key] = r
				rows = append(rows, stepRow{name: st.Name, cells: make([]*StepReport, len(runs))})
			}
			rows[r].cells[col] = st
			rows[r].always = rows[r].always || st.Always
		}
	}
	return rows
}

// humanDuration formats d for people: 850µs, 12ms, 1.23s, 2m5s.
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	}
	if r := d.Round(time.Microsecond); r < time.Millisecond {
		return fmt.Sprintf("%dµs", r.Microseconds())
	}
	if r := d.Round(time.Millisecond); r < time.Second {
		return fmt.Sprintf("%dms", r.Milliseconds())
	}
	if r := d.Round(10 * time.Millisecond); r < time.Minute {
		return fmt.Sprintf("%.2fs", r.Seconds())
	}
	return d.Round(time.Second).String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// totals is the one-line count shared by the Markdown and text summaries:
// "3 suites, 9 steps: 6 passed, 1 failed, 1 errored, 1 skipped, 1 suite error (10.41s)".
// paint decorates each count with the status it counts and the duration with ""; the
// text writer colours them, Markdown leaves them plain.
func totals(r *Report, paint func(kind Status, text string) string) string {
	p, f, e, s := r.Counts()
	parts := []string{paint(StatusPassed, fmt.Sprintf("%d passed", p))}
	for _, c := range []struct {
		n    int
		kind Status
	}{{f, StatusFailed}, {e, StatusError}, {s, StatusSkipped}} {
		if c.n > 0 {
			word := string(c.kind)
			if c.kind == StatusError {
				word = "errored"
			}
			parts = append(parts, paint(c.kind, fmt.Sprintf("%d %s", c.n, word)))
		}
	}
	if n := suiteErrors(r); n > 0 {
		parts = append(parts, paint(StatusError, plural(n, "suite error", "suite errors")))
	}
	return fmt.Sprintf("%s, %s: %s %s",
		scope(r), plural(p+f+e+s, "step", "steps"),
		strings.Join(parts, ", "), paint("", "("+humanDuration(r.Duration)+")"))
}

// scope counts what ran: suites, and the environments when a suite ran on several — "1 suite
// on 2 environments", "2 suites, 3 runs" — never one run per environment counted as a suite.
func scope(r *Report) string {
	groups := groupSuites(r.Suites)
	suites := plural(len(groups), "suite", "suites")
	if len(r.Suites) == len(groups) {
		return suites
	}
	envs := map[string]bool{}
	for i := range r.Suites {
		envs[r.Suites[i].Environment] = true
	}
	if len(r.Suites) == len(groups)*len(envs) {
		return suites + " on " + plural(len(envs), "environment", "environments")
	}
	return suites + ", " + plural(len(r.Suites), "run", "runs")
}

// failedRuns says which suite runs failed: "2 of 3 suites" when each suite ran once, else
// by suite and environment — "checkout failed on green" — so that one suite failing on one of
// two environments does not read as one of two suites failing.
func failedRuns(r *Report) string {
	groups := groupSuites(r.Suites)
	failed, n := []string{}, 0
	for _, g := range groups {
		var envs []string
		for _, run := range g.runs {
			if !run.passed() {
				envs = append(envs, run.Environment)
			}
		}
		if len(envs) > 0 {
			n += len(envs)
			failed = append(failed, g.name+" failed on "+strings.Join(envs, ", "))
		}
	}
	switch {
	case len(r.Suites) == len(groups):
		return fmt.Sprintf("%d of %s failed", n, plural(len(groups), "suite", "suites"))
	case len(failed) > 3:
		return fmt.Sprintf("%d of %d suite runs failed", n, len(r.Suites))
	}
	return strings.Join(failed, "; ")
}

func suiteErrors(r *Report) int {
	n := 0
	for i := range r.Suites {
		if r.Suites[i].suiteError() != "" {
			n++
		}
	}
	return n
}
