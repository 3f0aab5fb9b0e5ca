package verdict

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/greenlight/greenlight/compare"
)

// WriteGitHub writes r's failures as GitHub Actions workflow commands — one ::error line per
// failed step or suite, naming the suite's file — which become annotations when a workflow step
// prints them.
func WriteGitHub(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	for _, p := range r.Problems {
		ghCommand(bw, "error", "", "greenlight: invalid input", p)
	}
	ghSmoke(bw, r)
	if r.Interrupted {
		ghCommand(bw, "warning", "", "greenlight: interrupted", "interrupted before every step ran — nothing decided")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write github report: %w", err)
	}
	return nil
}

// WriteVerdictGitHub writes a verdict as GitHub Actions workflow commands: the decision
// (::notice for promote, ::error for rollback, ::warning otherwise), an ::error per failed
// smoke step and per critical check that failed or whose source failed, and a ::warning per
// advisory check that failed.
func WriteVerdictGitHub(w io.Writer, v *Verdict) error {
	bw := bufio.NewWriter(w)
	level := "warning"
	switch v.Decision {
	case Promote:
		level = "notice"
	case Rollback, Invalid:
		level = "error"
	}
	ghCommand(bw, level, "", fmt.Sprintf("greenlight: %s %s", v.Decision, v.Analysis), v.Reason)
	for _, p := range v.Problems {
		ghCommand(bw, "error", "", "greenlight: invalid input", p)
	}
	if v.Smoke != nil {
		ghSmoke(bw, v.Smoke)
	}
	for _, c := range v.Checks {
		level := ""
		switch {
		case c.State == compare.Fail && c.Critical:
			level = "error"
		case c.State == compare.Error && c.Critical:
			level = "error"
		case c.State == compare.Fail || c.State == compare.Error:
			level = "warning"
		}
		if level == "" {
			continue
		}
		msg := c.Reason
		if c.State == compare.Error && c.Error != "" {
			msg = c.Error
		}
		kind := "check"
		if !c.Critical {
			kind = "advisory check"
		}
		ghCommand(bw, level, "", fmt.Sprintf("greenlight: %s %s %s", kind, c.Name, c.State), msg)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write github report: %w", err)
	}
	return nil
}

// ghSmoke writes an ::error per failed step and per suite error.
func ghSmoke(w io.Writer, r *Report) {
	for i := range r.Suites {
		s := &r.Suites[i]
		for j := range s.Steps {
			st := &s.Steps[j]
			if !st.failing() {
				continue
			}
			env := s.Environment
			if st.Environment != "" {
				env = st.Environment
			}
			what := []string{statusWord(st.Status)}
			if st.StatusCode != 0 {
				what[0] += fmt.Sprintf(" (%d)", st.StatusCode)
			}
			what = append(what, st.failedConditions()...)
			if st.Error != "" {
				what = append(what, st.Error)
			}
			ghCommand(w, "error", s.File, fmt.Sprintf("greenlight: %s › %s on %s", s.Name, st.Name, env), strings.Join(what, "; "))
		}
		if msg := s.suiteError(); msg != "" {
			ghCommand(w, "error", s.File, fmt.Sprintf("greenlight: %s on %s", s.Name, s.Environment), msg)
		}
	}
}

// ghCommand writes one workflow command, escaped as GitHub's toolkit escapes them so that no
// text can end the command or start another.
func ghCommand(w io.Writer, level, file, title, message string) {
	props := "title=" + ghProperty(title)
	if file != "" {
		props = "file=" + ghProperty(file) + "," + props
	}
	fmt.Fprintf(w, "::%s %s::%s\n", level, props, ghData(message))
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
