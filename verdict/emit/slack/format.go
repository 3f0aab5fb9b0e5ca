package slack

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

var decisionEmoji = map[verdict.Decision]string{
	verdict.Promote:      ":white_check_mark:",
	verdict.Rollback:     ":x:",
	verdict.Inconclusive: ":warning:",
	verdict.Interrupted:  ":octagonal_sign:",
	verdict.Running:      ":hourglass_flowing_sand:",
}

var stateEmoji = map[compare.State]string{
	compare.Pass:         ":white_check_mark:",
	compare.Fail:         ":x:",
	compare.Inconclusive: ":grey_question:",
}

// checksPerSection: each check is a row of two fields, its name and its result.
const checksPerSection = MaxFields / 2

// Format turns an event's payload into a Slack message within Slack's limits.
func Format(p *emit.Payload) Message {
	d := p.Data
	a := d.Analysis
	title, summary := headline(p)

	blocks := []Block{{Type: "header", Text: plain(title, MaxHeader)}}
	blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn(summary, MaxText))})
	if why := reasons(d); why != "" {
		blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn(why, MaxText))})
	}
	if s := smoke(d.Smoke); s != "" {
		blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn(s, MaxText))})
	}

	// The tail: the context line and the buttons, kept whatever the number of checks.
	var tail []Block
	ctx := []any{mrkdwn(contextLine(a), MaxText)}
	tail = append(tail, Block{Type: "context", Elements: ctx})
	if b := buttons(d.Links); len(b) > 0 {
		tail = append(tail, Block{Type: "actions", Elements: b})
	}

	if v := d.Verdict; v != nil && len(v.Checks) > 0 {
		blocks = append(blocks, Block{Type: "divider"})
		room := MaxBlocks - len(blocks) - len(tail)
		sections := (len(v.Checks) + checksPerSection - 1) / checksPerSection
		shown := len(v.Checks)
		if sections > room {
			sections = room - 1 // one block says how many are left out
			shown = sections * checksPerSection
		}
		for i := 0; i < shown; i += checksPerSection {
			var fields []Text
			for _, c := range v.Checks[i:min(i+checksPerSection, shown)] {
				fields = append(fields, checkFields(c, a)...)
			}
			blocks = append(blocks, Block{Type: "section", Fields: fields})
		}
		if shown < len(v.Checks) {
			more := fmt.Sprintf("… and %d more checks: see the dashboard or the API.", len(v.Checks)-shown)
			blocks = append(blocks, Block{Type: "context", Elements: []any{mrkdwn(more, MaxText)}})
		}
	}
	blocks = append(blocks, tail...)
	return Message{Text: fit(fallback(p), maxFallback), Blocks: blocks}
}

func ptr[T any](v T) *T { return &v }

// headline returns the header's plain text and the summary section's mrkdwn.
func headline(p *emit.Payload) (string, string) {
	d := p.Data
	a := d.Analysis
	spec := esc(a.Spec)
	sides := fmt.Sprintf("*%s* (candidate) vs *%s* (baseline)", esc(a.Candidate.Name), esc(a.Baseline.Name))
	switch p.Type {
	case emit.Started:
		return ":rocket: Analysis started: " + spec, sides + " · started"
	case emit.SmokeDone:
		if d.Smoke != nil && d.Smoke.Status == verdict.StatusPassed {
			return ":white_check_mark: Smoke passed: " + spec, sides + " · the smoke gate passed; comparing now"
		}
		return ":x: Smoke failed: " + spec, sides + " · the smoke gate failed"
	}
	v := d.Verdict
	if v == nil {
		return ":information_source: " + esc(string(p.Type)) + ": " + spec, sides
	}
	emoji := decisionEmoji[v.Decision]
	word := strings.ToUpper(esc(string(v.Decision)))
	title := fmt.Sprintf("%s %s: %s", emoji, word, spec)
	switch p.Type {
	case emit.WatchRegression:
		title = fmt.Sprintf(":rotating_light: Regression after promote: %s", spec)
	case emit.Aborted:
		title = fmt.Sprintf(":octagonal_sign: Aborted: %s", spec)
	case emit.Overridden:
		title = fmt.Sprintf("%s %s by hand: %s", emoji, word, spec)
	}
	summary := fmt.Sprintf("%s *%s* — %s\n%s · %s", emoji, esc(string(v.Decision)), esc(v.Reason), sides,
		(time.Duration(v.DurationMs * float64(time.Millisecond))).Round(time.Second))
	if v.Undecided {
		summary += " · no evidence either way: the policy decided"
	}
	if o := v.Override; o != nil {
		summary += fmt.Sprintf("\n:bust_in_silhouette: decided by %s: %s (the analysis said %s: %s)",
			esc(o.By), esc(o.Why), esc(string(o.Was)), esc(o.WasReason))
	}
	return title, summary
}

// reasons lists what explains the verdict beyond its reason: the event's message, failed
// advisory checks, and what kept an environment from being measured.
func reasons(d emit.Data) string {
	var lines []string
	if d.Message != "" {
		lines = append(lines, esc(d.Message))
	}
	if v := d.Verdict; v != nil {
		for _, a := range v.Advisories {
			lines = append(lines, ":small_orange_diamond: advisory "+esc(a))
		}
		for _, g := range v.Diagnosis {
			lines = append(lines, ":mag: "+esc(g))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "*Why*\n" + strings.Join(lines, "\n")
}

func smoke(s *emit.Smoke) string {
	if s == nil || s.Status == verdict.StatusPassed {
		return ""
	}
	lines := []string{fmt.Sprintf("*Smoke gate failed*: %d of %d steps passed", s.Counts.Passed, s.Counts.Steps)}
	for _, su := range s.Suites {
		if su.Error != "" {
			lines = append(lines, fmt.Sprintf("• %s on %s: %s", esc(su.Name), esc(su.Environment), esc(su.Error)))
		}
		for _, st := range su.Failed {
			lines = append(lines, fmt.Sprintf("• %s on %s, step %s: %s", esc(su.Name), esc(su.Environment), esc(st.Name), esc(st.Error)))
		}
	}
	return strings.Join(lines, "\n")
}

// checkFields is one row of the check table: the check and its result.
func checkFields(c emit.Check, a emit.AnalysisData) []Text {
	name := fmt.Sprintf("%s *%s*", stateEmoji[c.State], esc(c.Name))
	if !c.Critical {
		name += " (advisory)"
	}
	result := esc(c.Reason)
	if c.Error != "" {
		result += "\nsource error: " + esc(c.Error)
	}
	result += fmt.Sprintf("\nsamples: %s %d, %s %d", esc(a.Candidate.Name), c.Candidate.N, esc(a.Baseline.Name), c.Baseline.N)
	return []Text{mrkdwn(name, MaxField), mrkdwn(result, MaxField)}
}

func contextLine(a emit.AnalysisData) string {
	parts := []string{"greenlight", "analysis `" + esc(a.ID) + "`"}
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, esc(k)+"="+esc(a.Labels[k]))
	}
	return strings.Join(parts, " · ")
}

func buttons(l *emit.Links) []any {
	if l == nil {
		return nil
	}
	var out []any
	add := func(label, url, id, style string) {
		if url == "" || len(url) > MaxURL {
			return
		}
		out = append(out, Button{Type: "button", Text: *plain(label, MaxButton), URL: url, ActionID: id, Style: style})
	}
	add("Open dashboard", l.Dashboard, "greenlight-dashboard", "primary")
	add("Analysis API", l.API, "greenlight-api", "")
	return out
}

// fallback is the notification's text, shown where blocks are not (notifications, old
// clients).
func fallback(p *emit.Payload) string {
	d := p.Data
	if v := d.Verdict; v != nil {
		return fmt.Sprintf("%s %s: %s", strings.ToUpper(esc(string(v.Decision))), esc(d.Analysis.Spec), esc(v.Reason))
	}
	return fmt.Sprintf("%s: %s", esc(string(p.Type)), esc(d.Analysis.Spec))
}
