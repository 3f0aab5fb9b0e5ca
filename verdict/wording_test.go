package verdict

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/compare"
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

// A number that does not exist yet (no data: NaN) reads "—" in every human-readable output,
// never "NaN" or "+NaNpp".
func TestNoNaNInHumanOutput(t *testing.T) {
	nan, inc := math.NaN(), 0.01
	c := CheckResult{Name: "errors", Critical: true, Source: "prometheus", Error: "prometheus for green: empty result",
		Outcome: compare.Outcome{Kind: "error-rate", Metric: "error rate", State: compare.Error, Reason: "no usable data",
			Baseline: compare.Estimate{Value: nan, Lower: nan, Upper: nan}, Candidate: compare.Estimate{Value: nan, Lower: nan, Upper: nan},
			Ratio: compare.Effect{Value: nan, Lower: nan, Upper: nan}, Diff: compare.Effect{Value: nan, Lower: nan, Upper: nan},
			Threshold: compare.Threshold{MaxIncrease: &inc}}}
	shift := c
	shift.Name, shift.Kind, shift.Threshold = "shift", "shift", compare.Threshold{}
	shift.Statistic = &compare.Effect{Value: nan, Lower: nan, Upper: nan}
	v := fixtureVerdict(Inconclusive)
	v.Checks = []CheckResult{c, shift}
	var text, md bytes.Buffer
	NewTextWriter(&text, TextOptions{}).Verdict(v)
	if err := WriteVerdictMarkdown(&md, v); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if strings.Contains(out, "NaN") {
			t.Errorf("%s shows NaN:\n%s", name, out)
		}
	}
}

// The table's "sure of" interval of a check that failed just beyond its limit shows the digits
// that tell it from the limit, as the reason does.
func TestSureOfBesideTheLimit(t *testing.T) {
	v := fixtureVerdict(Rollback)
	limit := 1.5
	v.Checks = []CheckResult{check("p95", true, compare.Fail)}
	v.Checks[0].Threshold.MaxRatio = &limit
	v.Checks[0].Ratio = compare.Effect{Value: 1.76, Lower: 1.5003, Upper: 2.17}
	var text, md bytes.Buffer
	NewTextWriter(&text, TextOptions{}).Verdict(v)
	if err := WriteVerdictMarkdown(&md, v); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !strings.Contains(out, "[1.5003, 2.17]") {
			t.Errorf("%s: want the interval as [1.5003, 2.17]:\n%s", name, out)
		}
	}
}
