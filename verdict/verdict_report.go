package verdict

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
)

// MarshalJSON writes durations in milliseconds and the exit code, beside the verdict's fields.
func (v Verdict) MarshalJSON() ([]byte, error) {
	type plain Verdict
	return json.Marshal(struct {
		plain
		DurationMs float64    `json:"durationMs"`
		WatchMs    float64    `json:"watchMs,omitempty"`
		ExitCode   ExitCode   `json:"exitCode"`
		Advisories []string   `json:"advisories,omitempty"`
		Counts     stateCount `json:"counts"`
	}{plain(v), millis(v.Duration), millis(v.Watch), v.ExitCode(), Advisories(v.Checks), countStates(v.Checks)})
}

type stateCount struct {
	Pass         int `json:"pass"`
	Fail         int `json:"fail"`
	Inconclusive int `json:"inconclusive"`
	Error        int `json:"error"` // the source failed: no usable data
}

func countStates(cs []CheckResult) stateCount {
	var n stateCount
	for _, c := range cs {
		switch c.State {
		case compare.Pass:
			n.Pass++
		case compare.Fail:
			n.Fail++
		case compare.Error:
			n.Error++
		default:
			n.Inconclusive++
		}
	}
	return n
}

// WriteVerdictJSON writes the verdict, its checks with their outcomes, and the smoke report.
func WriteVerdictJSON(w io.Writer, v *Verdict) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write verdict json: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteVerdictJUnit writes the smoke gate's suites and one test suite for the analysis with a
// test case per check: a failed check is a <failure>, an inconclusive one <skipped> (or a
// failure when the policy turned the inconclusive analysis into a rollback). Invalid input is
// one test case in <error>, with the problems.
func WriteVerdictJUnit(w io.Writer, v *Verdict) error {
	doc := junitTestsuites{Name: "greenlight"}
	if v.Smoke != nil {
		for i := range v.Smoke.Suites {
			doc.Suites = append(doc.Suites, junitSuite(&v.Smoke.Suites[i]))
		}
	}
	ts := junitTestsuite{
		Name:      fmt.Sprintf("analysis %s [%s vs %s]", v.Analysis, v.Candidate.Name, v.Baseline.Name),
		Time:      seconds(v.Duration),
		Timestamp: v.StartedAt.UTC().Format(time.RFC3339),
		Properties: []junitProperty{
			{Name: "verdict", Value: string(v.Decision)},
			{Name: "baseline", Value: v.Baseline.Name},
			{Name: "candidate", Value: v.Candidate.Name},
		},
	}
	if v.Decision == Invalid {
		// Nothing ran: one test case that errored, with what to fix, so CI does not show green.
		msg := v.Reason + ": " + strings.Join(v.Problems, "; ")
		ts.Name, ts.Properties = strings.TrimSpace("invalid input "+v.Analysis), ts.Properties[:1]
		ts.Tests, ts.Errors = 1, 1
		ts.Cases = append(ts.Cases, junitTestcase{Name: "(input)", Classname: "analysis." + v.Analysis, Time: seconds(0),
			Error: &junitResult{Message: xmlChars(msg), Type: "invalid-input", Text: xmlChars(strings.Join(v.Problems, "\n"))}})
		doc.Suites = append(doc.Suites, ts)
		doc.Tests, doc.Errors, doc.Time = doc.Tests+1, doc.Errors+1, seconds(0)
		return encodeJUnit(w, doc)
	}
	for _, c := range v.Checks {
		// A check's time is how long it took to decide; one that never did took the whole analysis.
		took := v.Duration
		if (c.State == compare.Pass || c.State == compare.Fail) && c.Decided > 0 {
			took = c.Decided
		}
		tc := junitTestcase{Name: c.Name, Classname: "analysis." + v.Analysis, Time: seconds(took)}
		body := fmt.Sprintf("%s\nsource: %s\ncritical: %v\nsamples: %d %s, %d %s", c.Reason, c.Source, c.Critical,
			c.Candidate.N, v.Candidate.Name, c.Baseline.N, v.Baseline.Name)
		switch {
		case c.State == compare.Fail && c.Critical:
			tc.Failure = &junitResult{Message: xmlChars(c.Reason), Type: "regression", Text: xmlChars(body)}
			ts.Failures++
		case c.State == compare.Fail:
			tc.Skipped = &junitSkipped{Message: xmlChars("advisory check failed: " + c.Reason)}
			ts.Skipped++
		case c.State == compare.Error && c.Critical && v.Undecided && v.Decision == Rollback:
			tc.Failure = &junitResult{Message: xmlChars(c.Reason), Type: "source-error", Text: xmlChars(body)}
			ts.Failures++
		case c.State == compare.Error:
			tc.Error = &junitResult{Message: xmlChars(c.Reason), Type: "source-error", Text: xmlChars(body)}
			ts.Errors++
		case c.State == compare.Inconclusive && c.Critical && v.Undecided && v.Decision == Rollback:
			tc.Failure = &junitResult{Message: xmlChars("inconclusive: " + c.Reason), Type: "inconclusive", Text: xmlChars(body)}
			ts.Failures++
		case c.State == compare.Inconclusive:
			tc.Skipped = &junitSkipped{Message: xmlChars("inconclusive: " + c.Reason)}
			ts.Skipped++
		}
		ts.Tests++
		ts.Cases = append(ts.Cases, tc)
	}
	if v.Decision != Promote && ts.Failures == 0 {
		// The verdict itself failed (smoke gate, no data): say so in the suite, or CI shows green.
		ts.Tests++
		ts.Failures++
		ts.Cases = append(ts.Cases, junitTestcase{Name: "(verdict)", Classname: "analysis." + v.Analysis, Time: seconds(v.Duration),
			Failure: &junitResult{Message: xmlChars(string(v.Decision) + ": " + v.Reason), Type: string(v.Decision), Text: xmlChars(v.Reason)}})
	}
	doc.Suites = append(doc.Suites, ts)
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	doc.Time = seconds(v.Duration)
	return encodeJUnit(w, doc)
}

var decisionIcon = map[Decision]string{Promote: "✅", Rollback: "❌", Inconclusive: "⚠️", Running: "⏳", Interrupted: "⏹️", Invalid: "⛔"}
var stateIcon = map[compare.State]string{compare.Pass: "✅ pass", compare.Fail: "❌ fail", compare.Inconclusive: "⏳ inconclusive", compare.Error: "⚠️ source error"}

// WriteVerdictMarkdown writes the verdict as GitHub-flavoured Markdown: headline, reason, one
// row per check with both sides, the effect and its interval, then the smoke gate.
func WriteVerdictMarkdown(w io.Writer, v *Verdict) error {
	bw := bufio.NewWriter(w)
	switch {
	case v.Decision == Invalid && v.Analysis == "":
		fmt.Fprintf(bw, "### %s greenlight: invalid input\n\n", decisionIcon[v.Decision])
	case v.Decision == Invalid:
		fmt.Fprintf(bw, "### %s greenlight: invalid input — %s\n\n", decisionIcon[v.Decision], mdText(v.Analysis))
	default:
		fmt.Fprintf(bw, "### %s greenlight: %s — %s\n\n", decisionIcon[v.Decision], v.Decision, mdText(v.Analysis))
	}
	if v.Decision != Invalid {
		fmt.Fprintf(bw, "%s (candidate) vs %s (baseline), %s, decided in the %s phase.\n\n",
			mdCode(v.Candidate.Name), mdCode(v.Baseline.Name), humanDuration(v.Duration), v.Phase)
	}
	fmt.Fprintf(bw, "**Why:** %s\n\n", mdText(v.Reason))
	for _, p := range v.Problems {
		fmt.Fprintf(bw, "- %s\n", mdCode(p))
	}
	if len(v.Problems) > 0 {
		fmt.Fprintln(bw)
	}
	for _, d := range v.Diagnosis {
		fmt.Fprintf(bw, "**Diagnosis:** %s\n\n", mdText(d))
	}
	if len(v.Checks) > 0 {
		fmt.Fprintf(bw, "| check | state | %s | %s | effect | sure of | samples |\n| --- | --- | --- | --- | --- | --- | --- |\n",
			mdText(v.Candidate.Name), mdText(v.Baseline.Name))
		for _, c := range v.Checks {
			name := mdText(c.Name)
			if !c.Critical {
				name += " *(advisory)*"
			}
			eff, iv := effectCells(c)
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %d / %d |\n", name, stateIcon[c.State],
				valueCell(c, c.Candidate.Value), valueCell(c, c.Baseline.Value), eff, iv, c.Candidate.N, c.Baseline.N)
		}
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "<details><summary>Reasons</summary>")
		fmt.Fprintln(bw)
		for _, c := range v.Checks {
			fmt.Fprintf(bw, "- **%s** (%s): %s\n", mdText(c.Name), mdText(c.Source), mdCode(c.Reason))
		}
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "</details>")
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if v.Smoke != nil && len(v.Smoke.Suites) > 0 {
		if _, err := io.WriteString(w, "#### Smoke gate\n\n"); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := WriteMarkdown(&buf, v.Smoke); err != nil {
			return err
		}
		// Demote the smoke report's own headings under this one.
		body := strings.ReplaceAll(buf.String(), "\n### ", "\n##### ")
		body = strings.Replace(body, "### ", "##### ", 1)
		body = strings.ReplaceAll(body, "\n#### ", "\n###### ")
		if _, err := io.WriteString(w, body); err != nil {
			return err
		}
	}
	return nil
}

func valueCell(c CheckResult, v float64) string {
	if v != v { // NaN: the check has no such value (trace shape) or no data yet
		return "—"
	}
	switch c.Kind {
	case "latency", "shift":
		return humanSeconds(v)
	case "error-rate":
		return fmt.Sprintf("%.2f%%", v*100)
	}
	return fmt.Sprintf("%.3g", v)
}

// effectCells shows what the check judged: the ratio for ratio limits, else the difference, or
// the statistic for shift and value checks.
func effectCells(c CheckResult) (string, string) {
	if c.Kind == "trace-shape" {
		return "—", "—"
	}
	if c.Statistic != nil {
		return num(c.Statistic.Value), interval(num, c.Statistic.Lower, c.Statistic.Upper, c.Statistic.Lower != c.Statistic.Lower, c.Statistic.Upper != c.Statistic.Upper)
	}
	if c.Threshold.MaxRatio != nil || c.Threshold.MaxIncrease == nil {
		// A ratio's bounds are 0 and ∞ on the side a one-sided test does not look at.
		f := besideLimits(c, EffectRatio, func(x float64, extra int) string { return numN(x, extra) })
		return "×" + num(c.Ratio.Value), interval(f, c.Ratio.Lower, c.Ratio.Upper, !(c.Ratio.Lower > 0), !(c.Ratio.Upper <= 1e12))
	}
	f := func(x float64) string {
		if x != x { // NaN: no data yet
			return "—"
		}
		return signedSeconds(x)
	}
	if c.Kind == "error-rate" {
		f = besideLimits(c, EffectDiff, func(x float64, extra int) string {
			if x != x {
				return "—"
			}
			return fmt.Sprintf("%+.*fpp", 2+extra, x*100)
		})
	}
	lowOpen, highOpen := !(c.Diff.Lower > -1e12), !(c.Diff.Upper < 1e12)
	if c.Kind == "error-rate" {
		// A difference of rates lies in [-100pp, +100pp]: an end there is one not tested.
		lowOpen, highOpen = !(c.Diff.Lower > -1+1e-9), !(c.Diff.Upper < 1-1e-9)
	}
	return f(c.Diff.Value), interval(f, c.Diff.Lower, c.Diff.Upper, lowOpen, highOpen)
}

// interval shows what a check is sure of: "[a, b]", or "≤ b" / "≥ a" when a one-sided test
// leaves one end open, or "—" when it is sure of nothing yet.
func interval(f func(float64) string, lo, hi float64, lowOpen, highOpen bool) string {
	switch {
	case lowOpen && highOpen:
		return "—"
	case lowOpen:
		return "≤ " + f(hi)
	case highOpen:
		return "≥ " + f(lo)
	}
	return "[" + f(lo) + ", " + f(hi) + "]"
}

// besideLimits formats an interval's ends with f, giving an end that lies just beyond one of
// the check's limits of that effect the digits that tell it from the limit (1.5003, not 1.50,
// for a ratio that failed a limit of 1.5): a failure never reads like equality.
func besideLimits(c CheckResult, effect string, f func(x float64, extra int) string) func(float64) string {
	var limits []Limit
	for _, l := range c.Limits() {
		if l.Effect == effect {
			limits = append(limits, l)
		}
	}
	return func(x float64) string {
		for _, l := range limits {
			limit := l.Max
			if x == l.Interval.Upper && x < l.Min {
				limit = l.Min
			} else if x != l.Interval.Lower || x <= l.Max {
				continue
			}
			for extra := 0; extra <= 6; extra++ {
				if s := f(x, extra); s != f(limit, extra) {
					return s
				}
			}
		}
		return f(x, 0)
	}
}

func numN(x float64, extra int) string {
	if x != x || x > 1e12 {
		return num(x)
	}
	return fmt.Sprintf("%.*f", 2+extra, x)
}

func num(x float64) string {
	if x != x {
		return "—"
	}
	if x > 1e12 {
		return "∞"
	}
	return fmt.Sprintf("%.2f", x)
}

func humanSeconds(s float64) string {
	if s != s { // NaN: no data
		return "—"
	}
	return humanDuration(time.Duration(s * float64(time.Second)))
}

func signedSeconds(s float64) string {
	switch {
	case s != s:
		return "—"
	case s > 1e12:
		return "+∞"
	case s < -1e12:
		return "-∞"
	case s < 0:
		return "-" + humanSeconds(-s)
	}
	return "+" + humanSeconds(s)
}

// UnmarshalJSON reads what MarshalJSON writes: the verdict's fields with its durations from
// milliseconds (the derived exit code, advisories and counts are ignored).
func (v *Verdict) UnmarshalJSON(data []byte) error {
	type plain Verdict
	var in struct {
		plain
		DurationMs float64 `json:"durationMs"`
		WatchMs    float64 `json:"watchMs"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*v = Verdict(in.plain)
	v.Duration, v.Watch = fromMillis(in.DurationMs), fromMillis(in.WatchMs)
	return nil
}
