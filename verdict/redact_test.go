package verdict

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
)

// TestRedactBeforeRendering: a secret with Markdown and XML punctuation is escaped by the
// renderers into forms no redactor of the finished text would know; redacting the values first
// keeps it out of every format.
func TestRedactBeforeRendering(t *testing.T) {
	const secret = `p*ss_w|rd<&>"`
	redact := strings.NewReplacer(secret, "<secret>").Replace
	v := &Verdict{
		Analysis: "a", Decision: Rollback, Reason: "smoke failed: " + secret, Phase: PhaseSmoke,
		Baseline:  Environment{Name: "blue", URL: "http://u:" + secret + "@blue"},
		Candidate: Environment{Name: "green", URL: "http://green"},
		Checks: []CheckResult{{Name: "c", Critical: true, Source: "prometheus", Error: "GET ?q=" + secret,
			Warnings: []string{"partial: " + secret}, Outcome: compare.Outcome{State: compare.Fail, Reason: "saw " + secret}}},
		Smoke: &Report{Tool: "greenlight", Suites: []SuiteReport{{
			Name: "s", Environment: "green", URL: "http://u:" + secret + "@green", Status: StatusFailed, Error: secret,
			Steps: []StepReport{{Name: "login", Kind: "http", Status: StatusFailed, Request: "POST /x?k=" + secret, Error: secret,
				Conditions: []ConditionReport{{Expression: `body == "` + secret + `"`, Detail: "body (" + secret + ")"}}}},
		}}},
	}
	v.Redact(redact)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"json":     func(b *bytes.Buffer) error { return WriteVerdictJSON(b, v) },
		"junit":    func(b *bytes.Buffer) error { return WriteVerdictJUnit(b, v) },
		"markdown": func(b *bytes.Buffer) error { return WriteVerdictMarkdown(b, v) },
		"text": func(b *bytes.Buffer) error {
			NewTextWriter(b, TextOptions{Verbose: true}).Verdict(v)
			return nil
		},
		"smoke markdown": func(b *bytes.Buffer) error { return WriteMarkdown(b, v.Smoke) },
		"smoke junit":    func(b *bytes.Buffer) error { return WriteJUnit(b, v.Smoke) },
	} {
		var b bytes.Buffer
		require.NoError(t, write(&b), name)
		for _, part := range []string{"p*ss", `p\*ss`, "ss_w", `ss\_w`, "w|rd", `w\|rd`, "rd&lt;", `rd\<`} {
			assert.NotContains(t, b.String(), part, name)
		}
	}
	assert.Equal(t, "smoke failed: <secret>", v.Reason)
	var nilReport *Report
	nilReport.Redact(redact)
}
