package verdict

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/compare"
)

func check(name string, critical bool, state compare.State) CheckResult {
	r := 1.3
	return CheckResult{Name: name, Critical: critical, Source: "monitor m", Outcome: compare.Outcome{
		Kind: "latency", Metric: "p95", State: state, Reason: name + " reason",
		Baseline:  compare.Estimate{N: 100, Value: 0.1, Lower: 0.09, Upper: 0.11},
		Candidate: compare.Estimate{N: 100, Value: 0.13, Lower: 0.12, Upper: math.Inf(1)},
		Ratio:     compare.Effect{Value: 1.3, Lower: 1.1, Upper: math.Inf(1)},
		Threshold: compare.Threshold{MaxRatio: &r},
	}}
}

func TestAggregate(t *testing.T) {
	cases := []struct {
		name   string
		checks []CheckResult
		want   Decision
		reason string
	}{
		{"a failed critical check rolls back", []CheckResult{check("a", true, compare.Pass), check("b", true, compare.Fail)}, Rollback, "b: b reason"},
		{"an advisory failure never decides", []CheckResult{check("a", true, compare.Pass), check("b", false, compare.Fail)}, Promote, "the critical check passed"},
		{"undecided critical keeps running", []CheckResult{check("a", true, compare.Pass), check("b", true, compare.Inconclusive)}, Running, "inconclusive: b"},
		{"fail wins over undecided", []CheckResult{check("a", true, compare.Inconclusive), check("b", true, compare.Fail)}, Rollback, "b: b reason"},
		{"nothing critical never promotes", []CheckResult{check("a", false, compare.Pass)}, Running, "no critical check: nothing can justify a promote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, reason := Aggregate(tc.checks)
			if d != tc.want || reason != tc.reason {
				t.Errorf("got %s %q, want %s %q", d, reason, tc.want, tc.reason)
			}
		})
	}
}

func fixtureVerdict(d Decision) *Verdict {
	return &Verdict{
		Analysis: "checkout", Decision: d, Reason: "p95: ratio | 1.3", Phase: PhaseAnalysis,
		Baseline: Environment{Name: "blue"}, Candidate: Environment{Name: "green"},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 42 * time.Second,
		Checks: []CheckResult{check("p95", true, compare.Fail), check("errors", true, compare.Inconclusive), check("health", false, compare.Fail)},
	}
}

func TestVerdictJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerdictJSON(&buf, fixtureVerdict(Rollback)); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("infinite bounds must not break JSON: %v", err)
	}
	if got["verdict"] != "rollback" || got["exitCode"] != float64(1) || got["durationMs"] != float64(42000) {
		t.Errorf("verdict fields: %v %v %v", got["verdict"], got["exitCode"], got["durationMs"])
	}
	if adv, _ := got["advisories"].([]any); len(adv) != 1 {
		t.Errorf("advisories: %v", got["advisories"])
	}
}

func TestVerdictJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerdictJUnit(&buf, fixtureVerdict(Rollback)); err != nil {
		t.Fatal(err)
	}
	var doc junitTestsuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Skipped != 2 {
		t.Errorf("tests %d failures %d skipped %d: one critical failure; the undecided and the advisory are skipped", doc.Tests, doc.Failures, doc.Skipped)
	}

	// An undecided analysis that the policy rolled back must not look green in CI.
	v := fixtureVerdict(Rollback)
	v.Checks = []CheckResult{check("errors", true, compare.Inconclusive)}
	v.Undecided = true
	buf.Reset()
	if err := WriteVerdictJUnit(&buf, v); err != nil {
		t.Fatal(err)
	}
	doc = junitTestsuites{}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Failures != 1 {
		t.Errorf("undecided-then-rollback: %d failures, want 1", doc.Failures)
	}

	// A smoke-gate rollback has no checks: the verdict itself is the failure.
	v = fixtureVerdict(Rollback)
	v.Checks, v.Phase = nil, PhaseSmoke
	buf.Reset()
	if err := WriteVerdictJUnit(&buf, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `name="(verdict)"`) {
		t.Errorf("no (verdict) failure in:\n%s", buf.String())
	}
}

func TestVerdictMarkdownAndText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerdictMarkdown(&buf, fixtureVerdict(Rollback)); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{"### ❌ greenlight: rollback — checkout", `**Why:** p95: ratio \| 1.3`, "| p95 | ❌ fail | 130ms | 100ms | ×1.30 | ≥ 1.10 | 100 / 100 |", "health *(advisory)*"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	buf.Reset()
	NewTextWriter(&buf, TextOptions{}).Verdict(fixtureVerdict(Promote))
	txt := buf.String()
	for _, want := range []string{"✓ PROMOTE checkout — green (candidate) vs blue (baseline), 42.00s", "advisory: health: health reason", "p95", "×1.30"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "\x1b") {
		t.Error("no colour without Color")
	}
}

// TestVerdictJSONRoundTrip: a verdict reads back from its JSON with its durations, override,
// diagnosis and evidence.
func TestVerdictJSONRoundTrip(t *testing.T) {
	ok := int64(58)
	v := &Verdict{
		Analysis: "checkout", Decision: Promote, Reason: "overridden", Phase: PhaseAnalysis,
		Baseline: Environment{Name: "blue", URL: "http://b"}, Candidate: Environment{Name: "green", URL: "http://g"},
		StartedAt: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC), Duration: 42*time.Second + 500*time.Millisecond,
		Watch: 3 * time.Minute, Diagnosis: []string{"blue unreachable: connection refused, 3 of 40 probes"},
		Override: &Override{Decision: Promote, By: "alice", Why: "checked", At: time.Date(2026, 11, 30, 6, 1, 0, 0, time.UTC),
			Was: Interrupted, WasReason: "aborted"},
		Checks: []CheckResult{{Name: "errors", Critical: true, Source: "monitor m", Evidence: &Evidence{Observed: 60, Succeeded: &ok}}},
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Verdict
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(b) {
		t.Errorf("round trip changed the verdict:\n%s\n%s", b, again)
	}
	if back.Duration != v.Duration || back.Watch != v.Watch {
		t.Errorf("durations: %v %v", back.Duration, back.Watch)
	}
}

// TestOneSidedIntervals: an end a one-sided test does not look at is not shown as a bound.
func TestOneSidedIntervals(t *testing.T) {
	inc := 0.01
	cases := []struct {
		diff compare.Effect
		want string
	}{
		{compare.Effect{Value: 0, Lower: -1, Upper: 0.01}, "≤ +1.00pp"},
		{compare.Effect{Value: 0.05, Lower: 0.02, Upper: 1}, "≥ +2.00pp"},
		{compare.Effect{Value: 0, Lower: -1, Upper: 1}, "—"},
		{compare.Effect{Value: 0, Lower: -0.02, Upper: 0.03}, "[-2.00pp, +3.00pp]"},
	}
	for _, tc := range cases {
		c := CheckResult{Outcome: compare.Outcome{Kind: "error-rate", Diff: tc.diff, Threshold: compare.Threshold{MaxIncrease: &inc}}}
		if _, got := effectCells(c); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.diff, got, tc.want)
		}
	}
}

// A check whose source fails is in the error state: never a pass, so the analysis waits (and
// the policy's limits decide), and every report names it as a source error.
func TestSourceErrorStateNeverPasses(t *testing.T) {
	checks := []CheckResult{check("p95", true, compare.Pass), check("errors", true, compare.Error)}
	if d, reason := Aggregate(checks); d != Running || !strings.Contains(reason, "errors (source failing)") {
		t.Errorf("Aggregate = %s, %q; want running, naming the failing source", d, reason)
	}
	v := &Verdict{Analysis: "a", Decision: Inconclusive, Undecided: true, Checks: checks}
	for _, tt := range []struct {
		name  string
		write func(*strings.Builder) error
		want  []string
	}{
		{"json", func(b *strings.Builder) error { return WriteVerdictJSON(b, v) }, []string{`"error":1`, `"state":"error"`}},
		{"junit", func(b *strings.Builder) error { return WriteVerdictJUnit(b, v) }, []string{`errors="1"`, `type="source-error"`}},
		{"markdown", func(b *strings.Builder) error { return WriteVerdictMarkdown(b, v) }, []string{"⚠️ source error"}},
	} {
		var b strings.Builder
		if err := tt.write(&b); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(strings.ReplaceAll(b.String(), " ", ""), strings.ReplaceAll(w, " ", "")) {
				t.Errorf("%s: want %s in\n%s", tt.name, w, b.String())
			}
		}
	}
}

// Each check's JUnit time is how long it took to decide; one still inconclusive at the end
// took the whole analysis. The JSON keeps the decision time and reads it back.
func TestVerdictJUnitCheckTimes(t *testing.T) {
	v := fixtureVerdict(Rollback)
	v.Checks[0].Decided = 12500 * time.Millisecond
	var buf bytes.Buffer
	if err := WriteVerdictJUnit(&buf, v); err != nil {
		t.Fatal(err)
	}
	var doc junitTestsuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	times := map[string]string{}
	for _, tc := range doc.Suites[len(doc.Suites)-1].Cases {
		times[tc.Name] = tc.Time
	}
	if times["p95"] != "12.500" || times["errors"] != "42.000" {
		t.Errorf("check times %v: want p95 12.500 (decided then), errors 42.000 (never decided)", times)
	}

	buf.Reset()
	if err := WriteVerdictJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"decidedAfterMs": 12500`) {
		t.Errorf("want the decision time in JSON:\n%s", buf.String())
	}
	var back Verdict
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Checks[0].Decided != v.Checks[0].Decided || back.Checks[0].Name != "p95" {
		t.Errorf("read back %v %q, want %v p95", back.Checks[0].Decided, back.Checks[0].Name, v.Checks[0].Decided)
	}
}

// A run stopped on invalid input still writes its reports: JSON with verdict "error", exit 3
// and the problems; a JUnit error; Markdown and GitHub annotations that say what to fix.
func TestInvalidInputReports(t *testing.T) {
	v := InvalidInput("checkout", "invalid spec:\nsuites/a.yaml:3:7: unknown field \"evry\"\nan.yaml:9:5: no suite named \"x\"",
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if v.ExitCode() != ExitInvalid {
		t.Errorf("exit code %d, want %d", v.ExitCode(), ExitInvalid)
	}
	var js, junit, md, gh bytes.Buffer
	for _, w := range []error{WriteVerdictJSON(&js, v), WriteVerdictJUnit(&junit, v), WriteVerdictMarkdown(&md, v), WriteVerdictGitHub(&gh, v)} {
		if w != nil {
			t.Fatal(w)
		}
	}
	var got struct {
		Verdict  string   `json:"verdict"`
		Reason   string   `json:"reason"`
		ExitCode int      `json:"exitCode"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Verdict != "error" || got.ExitCode != 3 || got.Reason != "invalid spec" || len(got.Problems) != 2 {
		t.Errorf("json: %+v", got)
	}
	var doc junitTestsuites
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Errors != 1 || doc.Tests != 1 || !strings.Contains(junit.String(), `unknown field &#34;evry&#34;`) {
		t.Errorf("junit: errors %d tests %d\n%s", doc.Errors, doc.Tests, junit.String())
	}
	if !strings.Contains(md.String(), "### ⛔ greenlight: invalid input — checkout") || !strings.Contains(md.String(), "- `suites/a.yaml:3:7: unknown field \"evry\"`") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if !strings.Contains(gh.String(), "::error title=greenlight%3A invalid input::an.yaml:9:5: no suite named \"x\"") {
		t.Errorf("github:\n%s", gh.String())
	}
}

// A smoke run stopped on invalid input writes its reports too: status "error", exit 3, the
// problems in every format.
func TestInvalidInputSmokeReports(t *testing.T) {
	r := &Report{Tool: "greenlight", Problems: []string{`s.yaml:3:7: unknown field "stps"`}}
	if r.ExitCode() != ExitInvalid {
		t.Errorf("exit code %d, want %d", r.ExitCode(), ExitInvalid)
	}
	var js, junit, md, gh bytes.Buffer
	for _, err := range []error{WriteJSON(&js, r), WriteJUnit(&junit, r), WriteMarkdown(&md, r), WriteGitHub(&gh, r)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Status   string   `json:"status"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "error" || len(got.Problems) != 1 {
		t.Errorf("json: %s", js.String())
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Problems) != 1 {
		t.Errorf("read back %v: %+v", err, back)
	}
	var doc junitTestsuites
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Errors != 1 || !strings.Contains(junit.String(), `type="invalid-input"`) {
		t.Errorf("junit:\n%s", junit.String())
	}
	if md.String() != "### ⛔ greenlight: invalid input\n\n- `s.yaml:3:7: unknown field \"stps\"`\n" {
		t.Errorf("markdown:\n%q", md.String())
	}
	if !strings.Contains(gh.String(), "::error title=greenlight%3A invalid input::s.yaml:3:7") {
		t.Errorf("github:\n%s", gh.String())
	}
}
