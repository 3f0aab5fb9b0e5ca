package verdict

import (
	"bytes"
	"strings"
	"testing"
)

// A check not decided yet is "inconclusive" in every output, as in JSON: never a second word
// for the same state.
func TestInconclusiveIsOneWordEverywhere(t *testing.T) {
	v := fixtureVerdict(Inconclusive)
	outputs := map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { NewTextWriter(b, TextOptions{}).Verdict(v); return nil },
		"markdown": func(b *bytes.Buffer) error { return WriteVerdictMarkdown(b, v) },
		"junit":    func(b *bytes.Buffer) error { return WriteVerdictJUnit(b, v) },
		"json":     func(b *bytes.Buffer) error { return WriteVerdictJSON(b, v) },
	}
	for name, write := range outputs {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "inconclusive") || strings.Contains(b.String(), "undecided") {
				t.Errorf("want the state called inconclusive, never undecided:\n%s", b.String())
			}
		})
	}
}
