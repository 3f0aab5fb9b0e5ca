package verdict

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// suiteCaseName names the synthetic test case that carries a suite's own failure.
const suiteCaseName = "(suite)"

// WriteJUnit writes r in the de-facto JUnit XML schema read by Jenkins, GitLab, GitHub
// test reporters and Argo: one <testsuite> per suite run, named "<suite> [<environment>]",
// and one <testcase> per step, with classname "<suite>.<environment>" and times in
// seconds.
//
// A failed step gets a <failure type="condition"> listing each failed condition's resolved
// detail; an errored step gets an <error type="error">; a skipped step gets <skipped/>.
// Failure and error texts add the request line, status code, attempts and trace ID. A
// suite-level error is written to the suite's <system-err>. When the run did not pass
// and no step failed or errored, the suite's error also becomes an <error> on a
// synthetic test case named "(suite)", so that CI never shows a failing run as green;
// the totals then count that case as one more test and one more error than
// [Report.Counts].
func WriteJUnit(w io.Writer, r *Report) error {
	doc := junitTestsuites{Name: r.Tool}
	if doc.Name == "" {
		doc.Name = "greenlight"
	}
	for i := range r.Suites {
		ts := junitSuite(&r.Suites[i])
		doc.Tests += ts.Tests
		doc.Failures += ts.Failures
		doc.Errors += ts.Errors
		doc.Skipped += ts.Skipped
		doc.Suites = append(doc.Suites, ts)
	}
	if len(r.Problems) > 0 {
		// Nothing ran: one errored case with what to fix, so that CI does not show green.
		msg := xmlChars(strings.Join(r.Problems, "; "))
		doc.Suites = append(doc.Suites, junitTestsuite{Name: "invalid input", Tests: 1, Errors: 1, Time: seconds(0),
			Cases: []junitTestcase{{Name: "(input)", Classname: "greenlight", Time: seconds(0),
				Error: &junitResult{Message: msg, Type: "invalid-input", Text: xmlChars(strings.Join(r.Problems, "\n"))}}}})
		doc.Tests++
		doc.Errors++
	}
	doc.Time = seconds(r.Duration)
	return encodeJUnit(w, doc)
}

func encodeJUnit(w io.Writer, doc junitTestsuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}

type junitTestsuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestsuite `xml:"testsuite"`
}

type junitTestsuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitTestcase `xml:"testcase"`
	SystemErr  string          `xml:"system-err,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestcase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Error     *junitResult  `xml:"error,omitempty"`
	Failure   *junitResult  `xml:"failure,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// junitResult is a <failure> or <error>. Its text is CDATA so that multi-line messages
// stay readable in the file; encoding/xml would write every newline as "&#xA;".
type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

func junitSuite(s *SuiteReport) junitTestsuite {
	ts := junitTestsuite{
		Name:      fmt.Sprintf("%s [%s]", s.Name, s.Environment),
		Time:      seconds(s.Duration),
		SystemErr: s.Error,
	}
	if !s.StartedAt.IsZero() {
		ts.Timestamp = s.StartedAt.UTC().Format(time.RFC3339)
	}
	ts.Properties = append(ts.Properties, junitProperty{Name: "environment", Value: s.Environment})
	if s.URL != "" {
		ts.Properties = append(ts.Properties, junitProperty{Name: "url", Value: s.URL})
	}
	if s.File != "" {
		ts.Properties = append(ts.Properties, junitProperty{Name: "file", Value: s.File})
	}

	classname := s.Name + "." + s.Environment
	for i := range s.Steps {
		tc := junitCase(classname, &s.Steps[i])
		switch {
		case tc.Failure != nil:
			ts.Failures++
		case tc.Error != nil:
			ts.Errors++
		case tc.Skipped != nil:
			ts.Skipped++
		}
		ts.Cases = append(ts.Cases, tc)
	}
	if s.unexplained() {
		ts.Errors++
		msg := s.suiteError()
		ts.Cases = append(ts.Cases, junitTestcase{
			Name:      suiteCaseName,
			Classname: classname,
			Time:      seconds(0),
			Error:     &junitResult{Message: msg, Type: "error", Text: xmlChars(msg)},
		})
	}
	ts.Tests = len(ts.Cases)
	return ts
}

func junitCase(classname string, st *StepReport) junitTestcase {
	tc := junitTestcase{Name: st.Name, Classname: classname, Time: seconds(st.Duration)}
	switch st.Status {
	case StatusPassed:
	case StatusSkipped:
		tc.Skipped = &junitSkipped{Message: st.Error}
	case StatusFailed:
		failed := st.failedConditions()
		if st.Error != "" {
			failed = append(failed, st.Error)
		}
		if len(failed) == 0 {
			failed = []string{"step failed"}
		}
		tc.Failure = &junitResult{
			Message: strings.Join(failed, "; "),
			Type:    "condition",
			Text:    junitBody(failed, st),
		}
	default:
		msg := st.Error
		if msg == "" {
			msg = fmt.Sprintf("step %s", statusWord(st.Status))
		}
		tc.Error = &junitResult{Message: msg, Type: "error", Text: junitBody([]string{msg}, st)}
	}
	return tc
}

// junitBody is the text of a failure or error: the reasons, then what a reader needs to
// find the request again. Everything in it is already redacted.
func junitBody(reasons []string, st *StepReport) string {
	var b strings.Builder
	for _, r := range reasons {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	if st.Environment != "" {
		fmt.Fprintf(&b, "environment: %s\n", st.Environment)
	}
	if st.Request != "" {
		fmt.Fprintf(&b, "request: %s\n", st.Request)
	}
	if st.StatusCode != 0 {
		fmt.Fprintf(&b, "status: %d\n", st.StatusCode)
	}
	if st.Attempts > 1 {
		fmt.Fprintf(&b, "attempts: %d\n", st.Attempts)
	}
	if st.TraceID != "" {
		fmt.Fprintf(&b, "trace: %s\n", st.TraceID)
	}
	return xmlChars(strings.TrimSuffix(b.String(), "\n"))
}

// xmlChars replaces the characters XML cannot hold, such as escape codes from a response
// body, with U+FFFD. encoding/xml does this for attributes and character data but not
// for CDATA.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return utf8.RuneError
	}, s)
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
