package verdict

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes r as GitHub-flavoured Markdown, suitable for $GITHUB_STEP_SUMMARY
// or a pull-request comment: a headline, one table per suite (with a column per
// environment when the suite ran on several, so the runs read side by side) and a list
// of failures with their resolved conditions or errors.
//
// Every string from the report is escaped, so names and messages cannot break a table
// or turn into links, HTML or formatting.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	tool := r.Tool
	if tool == "" {
		tool = "greenlight"
	}
	switch {
	case len(r.Problems) > 0:
		fmt.Fprintf(bw, "### ⛔ %s: invalid input\n\n", mdText(tool))
		for _, p := range r.Problems {
			fmt.Fprintf(bw, "- %s\n", mdCode(p))
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write markdown report: %w", err)
		}
		return nil
	case r.Interrupted:
		fmt.Fprintf(bw, "### ⏹️ %s: interrupted before every step ran — nothing decided\n", mdText(tool))
	case len(r.Suites) == 0:
		fmt.Fprintf(bw, "### ❌ %s: no suites ran\n", mdText(tool))
	case r.Passed():
		fmt.Fprintf(bw, "### ✅ %s: %s passed\n", mdText(tool), scope(r))
	default:
		fmt.Fprintf(bw, "### ❌ %s: %s\n", mdText(tool), mdText(failedRuns(r)))
	}
	fmt.Fprintf(bw, "\n%s\n", mdText(totals(r, func(_ Status, s string) string { return s })))

	for _, g := range groupSuites(r.Suites) {
		if len(g.runs) == 1 {
			mdSingle(bw, g.runs[0])
		} else {
			mdSideBySide(bw, g)
		}
	}
	mdFailures(bw, r)

	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

// mdSideBySide writes one suite that ran on several environments as one table, a row
// per step and a column per environment.
func mdSideBySide(w io.Writer, g suiteGroup) {
	fmt.Fprintf(w, "\n#### %s\n\n| step |", mdText(g.name))
	for _, run := range g.runs {
		fmt.Fprintf(w, " %s |", mdText(run.Environment))
	}
	fmt.Fprint(w, "\n| --- |")
	for range g.runs {
		fmt.Fprint(w, " --- |")
	}
	fmt.Fprintln(w)
	for _, row := range stepRows(g.runs) {
		fmt.Fprintf(w, "| %s |", mdStepName(row.name, row.always))
		for _, st := range row.cells {
			fmt.Fprintf(w, " %s |", mdResult(st, true))
		}
		fmt.Fprintln(w)
	}
	for _, run := range g.runs {
		if msg := run.suiteError(); msg != "" {
			fmt.Fprintf(w, "\n⚠️ suite error on %s: %s\n", mdCode(run.Environment), mdText(msg))
		}
	}
}

// mdSingle writes a suite that ran on one environment.
func mdSingle(w io.Writer, s *SuiteReport) {
	fmt.Fprintf(w, "\n#### %s on %s\n\n", mdText(s.Name), mdCode(s.Environment))
	fmt.Fprint(w, "| step | result | duration |\n| --- | --- | --- |\n")
	for i := range s.Steps {
		st := &s.Steps[i]
		dur := ""
		if st.Status != StatusSkipped {
			dur = humanDuration(st.Duration)
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", mdStepName(st.Name, st.Always), mdResult(st, false), dur)
	}
	if msg := s.suiteError(); msg != "" {
		fmt.Fprintf(w, "\n⚠️ suite error: %s\n", mdText(msg))
	}
}

// mdFailures lists every failed or errored step and every suite-level error.
func mdFailures(w io.Writer, r *Report) {
	wrote := false
	header := func() {
		if !wrote {
			fmt.Fprint(w, "\n#### Failures\n\n")
			wrote = true
		}
	}
	for i := range r.Suites {
		s := &r.Suites[i]
		for j := range s.Steps {
			st := &s.Steps[j]
			if !st.failing() {
				continue
			}
			header()
			env := s.Environment
			if st.Environment != "" {
				env = st.Environment
			}
			what := "failed"
			if st.Status != StatusFailed {
				what = statusWord(st.Status)
			}
			if st.StatusCode != 0 {
				what += fmt.Sprintf(" (%d)", st.StatusCode)
			}
			fmt.Fprintf(w, "- **%s** › **%s** on %s: %s\n", mdText(s.Name), mdText(st.Name), mdCode(env), what)
			for _, d := range st.failedConditions() {
				fmt.Fprintf(w, "  - %s\n", mdCode(d))
			}
			if st.Error != "" {
				fmt.Fprintf(w, "  - %s\n", mdCode(st.Error))
			}
		}
		if msg := s.suiteError(); msg != "" {
			header()
			fmt.Fprintf(w, "- **%s** on %s: suite error\n  - %s\n", mdText(s.Name), mdCode(s.Environment), mdCode(msg))
		}
	}
}

func mdStepName(name string, always bool) string {
	if always {
		return mdText(name) + " *(always)*"
	}
	return mdText(name)
}

// mdResult is a step's result in a table cell. In a side-by-side table the cell holds
// the duration of a passed step; a one-environment table has a duration column instead.
// A missing step (nil) is a dash.
func mdResult(st *StepReport, withDuration bool) string {
	if st == nil {
		return "—"
	}
	var cell string
	switch st.Status {
	case StatusPassed:
		cell = "✅ passed"
		if withDuration {
			cell = "✅ " + humanDuration(st.Duration)
		}
	case StatusFailed:
		cell = "❌ failed"
		if st.StatusCode != 0 {
			cell = fmt.Sprintf("❌ %d", st.StatusCode)
		}
	case StatusSkipped:
		cell = "⏭ skipped"
	default:
		cell = "⚠️ " + mdText(statusWord(st.Status))
	}
	if st.Environment != "" {
		cell += " (on " + mdText(st.Environment) + ")"
	}
	return cell
}

// mdEscaper backslash-escapes the punctuation that Markdown would read as formatting,
// links or HTML, and the pipe that would end a table cell. Newlines become <br> so a
// multi-line message stays in its cell or list item.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `~`, `\~`, `#`, `\#`, `&`, `&amp;`,
	"\r\n", "<br>", "\n", "<br>", "\r", "<br>",
)

func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode puts s in a code span, so expressions and messages show exactly as written.
// The fence is longer than any run of backticks inside; a code span cannot hold a line
// break, so newlines become spaces. Not for table cells: there a pipe would end the cell.
func mdCode(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
