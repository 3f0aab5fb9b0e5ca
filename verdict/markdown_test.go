package verdict

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdownText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"pipe", "a|b", `a\|b`},
		{"newline", "line 1\nline 2", "line 1<br>line 2"},
		{"html", "<script>", `\<script\>`},
		{"emphasis and links", "*x* _y_ [z](u)", `\*x\* \_y\_ \[z\](u)`},
		{"backslash", `a\|b`, `a\\\|b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, mdText(tt.in), tt.want)
		})
	}
}

func TestMarkdownCode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "status (500) == 200", "`status (500) == 200`"},
		{"backtick", "json.a == `x`", "`` json.a == `x` ``"},
		{"newline", "a\nb", "`a b`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, mdCode(tt.in), tt.want)
		})
	}
}

// A pipe in a step name must not add a column, in either kind of table.
func TestMarkdownTableCellsEscapePipes(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
	}{
		{"one environment", passing()},
		{"side by side", fixture()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.report
			r.Suites[0].Steps[0].Name = "login | admin\nsecond line"
			if len(r.Suites) > 1 {
				r.Suites[1].Steps[0].Name = r.Suites[0].Steps[0].Name
			}
			var buf bytes.Buffer
			noErr(t, WriteMarkdown(&buf, r))
			found := false
			for line := range strings.Lines(buf.String()) {
				if !strings.HasPrefix(line, `| login \| admin<br>second line |`) {
					continue
				}
				found = true
				cells := strings.Count(line, "|") - strings.Count(line, `\|`)
				equal(t, cells, 4, "separators in %q", line) // step plus two columns
			}
			if !found {
				t.Errorf("no escaped login row in:\n%s", buf.String())
			}
		})
	}
}

func TestMarkdownHeadline(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
		want   string
	}{
		{"passed", passing(), "### ✅ greenlight: 1 suite passed\n"},
		{"failed", fixture(), "### ❌ greenlight: checkout-smoke failed on green; inventory-smoke failed on target\n"},
		{"one suite on two environments", &Report{Suites: []SuiteReport{checkout("blue", "", StatusPassed), checkout("green", "", StatusFailed)}},
			"### ❌ greenlight: checkout-smoke failed on green\n"},
		{"one suite on two environments passed", &Report{Suites: []SuiteReport{checkout("blue", "", StatusPassed), checkout("green", "", StatusPassed)}},
			"### ✅ greenlight: 1 suite on 2 environments passed\n"},
		{"suites run once each", &Report{Suites: []SuiteReport{checkout("green", "", StatusPassed), renamed(checkout("blue", "", StatusPassed), "login-smoke")}},
			"### ✅ greenlight: 2 suites passed\n"},
		{"empty", &Report{}, "### ❌ greenlight: no suites ran\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			noErr(t, WriteMarkdown(&buf, tt.report))
			line, _, _ := strings.Cut(buf.String(), "\n")
			equal(t, line+"\n", tt.want)
		})
	}
}

func renamed(s SuiteReport, name string) SuiteReport {
	s.Name = name
	return s
}

// A suite run on two environments is one suite: the totals say where it ran.
func TestTotalsCountRunsPerEnvironment(t *testing.T) {
	r := &Report{Suites: []SuiteReport{checkout("blue", "", StatusPassed), checkout("green", "", StatusFailed)}}
	var buf bytes.Buffer
	NewTextWriter(&buf, TextOptions{}).Summary(r)
	if !strings.Contains(buf.String(), "✗ 1 suite on 2 environments, 8 steps:") {
		t.Errorf("totals should count one suite on two environments:\n%s", buf.String())
	}
}
