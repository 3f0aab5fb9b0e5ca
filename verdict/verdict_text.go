package verdict

import (
	"fmt"
	"strings"

	"github.com/greenlight/greenlight/compare"
)

// Verdict prints the final verdict: the decision, why, and a row per check.
func (t *TextWriter) Verdict(v *Verdict) {
	var b strings.Builder
	sym, color := "?", ansiYellow
	switch v.Decision {
	case Promote:
		sym, color = "✓", ansiGreen
	case Rollback:
		sym, color = "✗", ansiRed
	case Interrupted:
		sym = "■"
	}
	fmt.Fprintf(&b, "\n%s %s — %s (candidate) vs %s (baseline), %s\n", t.paint(color, sym+" "+strings.ToUpper(string(v.Decision))),
		cleanLine(v.Analysis), cleanLine(v.Candidate.Name), cleanLine(v.Baseline.Name), humanDuration(v.Duration))
	fmt.Fprintf(&b, "  why: %s\n", cleanLine(v.Reason))
	for _, d := range v.Diagnosis {
		fmt.Fprintf(&b, "  %s %s\n", t.paint(ansiYellow, "diagnosis:"), cleanLine(d))
	}
	for _, a := range Advisories(v.Checks) {
		fmt.Fprintf(&b, "  %s %s\n", t.paint(ansiYellow, "advisory:"), cleanLine(a))
	}
	if len(v.Checks) > 0 {
		b.WriteString("\n")
		b.WriteString(t.CheckTable(v.Checks, v.Candidate.Name, v.Baseline.Name))
	}
	t.write(b.String())
}

// CheckTable renders one line per check: state, both sides, the effect with its interval and
// the samples — the live status block and the final verdict share it.
func (t *TextWriter) CheckTable(checks []CheckResult, candidate, baseline string) string {
	rows := [][]string{{"check", "state", cleanLine(candidate), cleanLine(baseline), "effect", "sure of", "samples"}}
	for _, c := range checks {
		name := cleanLine(c.Name)
		if !c.Critical {
			name += " (advisory)"
		}
		eff, iv := effectCells(c)
		rows = append(rows, []string{name, t.stateCell(c.State), valueCell(c, c.Candidate.Value), valueCell(c, c.Baseline.Value),
			eff, iv, fmt.Sprintf("%d/%d", c.Candidate.N, c.Baseline.N)})
	}
	var b strings.Builder
	for i, r := range rows {
		if i == 0 {
			for j := range r {
				r[j] = t.paint(ansiDim, r[j])
			}
		}
		rows[i] = append([]string{""}, r...)
	}
	writeColumns(&b, rows)
	return b.String()
}

func (t *TextWriter) stateCell(s compare.State) string {
	switch s {
	case compare.Pass:
		return t.paint(ansiGreen, "pass")
	case compare.Fail:
		return t.paint(ansiRed, "fail")
	case compare.Error:
		return t.paint(ansiRed, "error")
	}
	return t.paint(ansiYellow, "inconclusive")
}
