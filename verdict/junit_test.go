package verdict

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// parsed mirrors the JUnit schema independently of the writer's own types.
type parsed struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name      string  `xml:"name,attr"`
		Tests     int     `xml:"tests,attr"`
		Failures  int     `xml:"failures,attr"`
		Errors    int     `xml:"errors,attr"`
		Skipped   int     `xml:"skipped,attr"`
		Timestamp string  `xml:"timestamp,attr"`
		Hostname  *string `xml:"hostname,attr"`
		Props     []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		SystemErr string `xml:"system-err"`
		Cases     []struct {
			Name      string       `xml:"name,attr"`
			Classname string       `xml:"classname,attr"`
			Time      string       `xml:"time,attr"`
			Failure   *parsedIssue `xml:"failure"`
			Error     *parsedIssue `xml:"error"`
			Skipped   *struct{}    `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type parsedIssue struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func parseJUnit(t *testing.T, r *Report) (parsed, string) {
	t.Helper()
	var buf bytes.Buffer
	noErr(t, WriteJUnit(&buf, r))
	var got parsed
	noErr(t, xml.Unmarshal(buf.Bytes(), &got), "parse junit")
	return got, buf.String()
}

func TestJUnitParsesAndCountsMatch(t *testing.T) {
	suiteErrorOnly := passing()
	suiteErrorOnly.Suites[0].Status = StatusFailed
	suiteErrorOnly.Suites[0].Error = "suite timeout 30s exceeded"

	tests := []struct {
		name      string
		report    *Report
		synthetic int // "(suite)" test cases added for failures no step explains
	}{
		{"fixture", fixture(), 0},
		{"passed", passing(), 0},
		{"suite error without failing step", suiteErrorOnly, 1},
		{"empty", &Report{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseJUnit(t, tt.report)
			p, f, e, s := tt.report.Counts()
			equal(t, got.Name, "greenlight")
			equal(t, []int{got.Tests, got.Failures, got.Errors, got.Skipped},
				[]int{p + f + e + s + tt.synthetic, f, e + tt.synthetic, s}, "tests, failures, errors, skipped")

			var cases, failures, errors, skipped int
			for _, ts := range got.Suites {
				equal(t, len(ts.Cases), ts.Tests, "%s: tests", ts.Name)
				equal(t, ts.Hostname, (*string)(nil), "%s: hostname", ts.Name)
				cases += len(ts.Cases)
				failures += ts.Failures
				errors += ts.Errors
				skipped += ts.Skipped
			}
			equal(t, []int{cases, failures, errors, skipped},
				[]int{got.Tests, got.Failures, got.Errors, got.Skipped}, "suite totals add up")
		})
	}
}

func TestJUnitContent(t *testing.T) {
	got, _ := parseJUnit(t, fixture())
	if len(got.Suites) != 3 {
		t.Fatalf("got %d test suites, want 3", len(got.Suites))
	}

	green := got.Suites[1]
	equal(t, green.Name, "checkout-smoke [green]")
	equal(t, green.Timestamp, "2025-06-01T12:00:00Z")
	equal(t, len(green.Props), 3, "properties")
	equal(t, green.Props[0].Name+"="+green.Props[0].Value, "environment=green")
	equal(t, green.Props[1].Name+"="+green.Props[1].Value, "url=http://127.0.0.1:8082")

	profile := green.Cases[1]
	equal(t, profile.Name, "profile")
	equal(t, profile.Classname, "checkout-smoke.green")
	equal(t, profile.Time, "0.009")
	if profile.Failure == nil {
		t.Fatal("profile has no <failure>")
	}
	equal(t, profile.Failure.Type, "condition")
	equal(t, profile.Failure.Message, "status (500) == 200; json.name != ''",
		"detail when there is one, else the expression")
	if !strings.HasPrefix(profile.Failure.Text, "status (500) == 200\njson.name != ''\n") {
		t.Errorf("failure text: %q", profile.Failure.Text)
	}
	equal(t, green.Cases[2].Skipped != nil, true, "place-order skipped")

	target := got.Suites[2]
	equal(t, target.SystemErr, "suite timeout 10s exceeded")
	equal(t, target.Cases[1].Error != nil && target.Cases[1].Error.Type == "error", true, "stock errored")
	equal(t, len(target.Cases), 2, "a failing step explains the suite: no synthetic case")
}

func TestJUnitSyntheticSuiteCase(t *testing.T) {
	r := passing()
	r.Suites[0].Status = StatusFailed
	r.Suites[0].Error = "dial tcp 127.0.0.1:8081: connect: connection refused"

	got, _ := parseJUnit(t, r)
	cases := got.Suites[0].Cases
	last := cases[len(cases)-1]
	equal(t, last.Name, "(suite)")
	if last.Error == nil {
		t.Fatal("(suite) has no <error>")
	}
	equal(t, last.Error.Message, r.Suites[0].Error)
}

func TestJUnitEscapes(t *testing.T) {
	r := passing()
	st := &r.Suites[0].Steps[1]
	st.Status = StatusFailed
	st.Conditions = []ConditionReport{{
		Expression: `body contains "<ok>"`,
		Detail:     "body (\"<html>]]>&\x1b\") contains \"<ok>\"",
	}}

	got, out := parseJUnit(t, r)
	if strings.Contains(out, "\x1b") {
		t.Error("escape byte in XML")
	}
	want := "body (\"<html>]]>&\uFFFD\") contains \"<ok>\""
	equal(t, got.Suites[0].Cases[1].Failure.Message, want)
	equal(t, strings.SplitN(got.Suites[0].Cases[1].Failure.Text, "\n", 2)[0], want, "CDATA text")
}
