package verdict

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture is a smoke run with every case the renderers must show: checkout-smoke ran on
// blue (passed) and green (a failed condition, a skipped step after it and an always
// step that still ran); inventory-smoke ran on one target, where a step errored and the
// suite timed out.
func fixture() *Report {
	return &Report{
		Tool:      "greenlight",
		Version:   "0.1.0",
		StartedAt: t0,
		Duration:  10412 * time.Millisecond,
		Suites: []SuiteReport{
			checkout("blue", "http://127.0.0.1:8081", StatusPassed),
			checkout("green", "http://127.0.0.1:8082", StatusFailed),
			{
				Name:        "inventory-smoke",
				File:        "smoke/inventory.yaml",
				Environment: "target",
				URL:         "https://inventory.example.test",
				Status:      StatusFailed,
				StartedAt:   t0,
				Duration:    10001 * time.Millisecond,
				Error:       "suite timeout 10s exceeded",
				Steps: []StepReport{
					{
						Name: "health", Kind: "http", Status: StatusPassed,
						Duration: 850 * time.Microsecond, Request: "GET https://inventory.example.test/healthz",
						StatusCode: 200,
						Conditions: []ConditionReport{{Expression: "status == 200", Passed: true}},
					},
					{
						Name: "stock", Kind: "http", Status: StatusError,
						Duration: 9998 * time.Millisecond, Attempts: 3,
						Request: "GET https://inventory.example.test/api/stock?sku=42",
						Error:   "GET https://inventory.example.test/api/stock?sku=42: context deadline exceeded",
					},
				},
			},
		},
	}
}

// checkout is one run of the checkout suite; on a failed run, profile gets a 500.
func checkout(env, url string, status Status) SuiteReport {
	failed := status == StatusFailed
	slower := time.Duration(0) // green runs the new build, a little slower
	if failed {
		slower = 2 * time.Millisecond
	}
	profile := StepReport{
		Name: "profile", Kind: "http", Status: StatusPassed, Duration: 8200 * time.Microsecond,
		Request: "GET " + url + "/api/user/profile", StatusCode: 200, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Conditions: []ConditionReport{
			{Expression: "status == 200", Passed: true},
			{Expression: "duration < 300ms", Passed: true},
		},
	}
	order := StepReport{
		Name: "place-order", Kind: "http", Status: StatusPassed, Duration: 20 * time.Millisecond,
		Request: "POST " + url + "/api/orders", StatusCode: 201,
		Conditions: []ConditionReport{{Expression: "status == 201", Passed: true}},
		Captured:   []string{"orderId"},
	}
	if failed {
		profile.Status, profile.StatusCode, profile.Duration = StatusFailed, 500, 9*time.Millisecond
		profile.Conditions = []ConditionReport{
			{Expression: "status == 200", Passed: false, Detail: "status (500) == 200"},
			{Expression: "duration < 300ms", Passed: true},
			{Expression: "json.name != ''", Passed: false},
		}
		order = StepReport{Name: "place-order", Kind: "http", Status: StatusSkipped}
	}
	return SuiteReport{
		Name:        "checkout-smoke",
		File:        "smoke/checkout.yaml",
		Environment: env,
		URL:         url,
		Status:      status,
		StartedAt:   t0,
		Duration:    1234 * time.Millisecond,
		Steps: []StepReport{
			{
				Name: "login", Kind: "http", Status: StatusPassed, Duration: 12*time.Millisecond + slower,
				Request: "POST " + url + "/auth/login", StatusCode: 200,
				Conditions: []ConditionReport{
					{Expression: "status == 200", Passed: true},
					{Expression: "json.token != ''", Passed: true},
				},
				Captured: []string{"token"},
			},
			profile,
			order,
			{
				Name: "cleanup", Kind: "http", Status: StatusPassed, Always: true, Duration: 3*time.Millisecond + slower,
				Request: "DELETE " + url + "/api/test-data", StatusCode: 204,
			},
		},
	}
}

// passing is a report in which everything passed.
func passing() *Report {
	return &Report{
		Tool: "greenlight", Version: "0.1.0", StartedAt: t0, Duration: time.Second,
		Suites: []SuiteReport{checkout("blue", "http://127.0.0.1:8081", StatusPassed)},
	}
}

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		noErr(t, os.MkdirAll("testdata", 0o755))
		noErr(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./verdict/ -update to create it", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; rerun with -update if intended\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// equal fails the test when got and want differ. The tests use the standard library
// only, so that they need no module outside go.mod.
func equal[T any](t *testing.T, got, want T, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%sgot:  %#v\nwant: %#v", context(msg), got, want)
	}
}

// noErr stops the test on an error.
func noErr(t *testing.T, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%sunexpected error: %v", context(msg), err)
	}
}

func context(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	return fmt.Sprintf(msg[0].(string), msg[1:]...) + ": "
}

func TestGolden(t *testing.T) {
	text := func(opts TextOptions) func(*bytes.Buffer, *Report) error {
		return func(buf *bytes.Buffer, r *Report) error {
			tw := NewTextWriter(buf, opts)
			for _, s := range r.Suites {
				for _, st := range s.Steps {
					tw.Step(s.Name, s.Environment, st)
				}
			}
			tw.Summary(r)
			return nil
		}
	}
	tests := []struct {
		file   string
		report func() *Report
		render func(*bytes.Buffer, *Report) error
	}{
		{"report.json.golden", fixture, func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
		{"report.junit.xml.golden", fixture, func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }},
		{"report.md.golden", fixture, func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"report.txt.golden", fixture, text(TextOptions{Prefix: true})},
		{"report-verbose.txt.golden", fixture, text(TextOptions{Prefix: true, Verbose: true})},
		{"report-color.txt.golden", fixture, text(TextOptions{Prefix: true, Color: true})},
		{"passed.md.golden", passing, func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"passed.txt.golden", passing, text(TextOptions{})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			noErr(t, tt.render(&buf, tt.report()))
			golden(t, tt.file, buf.Bytes())
		})
	}
}

func TestPassedCountsExitCode(t *testing.T) {
	suiteErrorOnly := passing()
	suiteErrorOnly.Suites[0].Status = StatusFailed
	suiteErrorOnly.Suites[0].Error = "suite timeout 30s exceeded"

	unknownStatus := passing()
	unknownStatus.Suites[0].Steps[0].Status = ""

	tests := []struct {
		name                             string
		report                           *Report
		passed                           bool
		exit                             ExitCode
		cPassed, cFailed, cErr, cSkipped int
	}{
		{"all passed", passing(), true, ExitPass, 4, 0, 0, 0},
		{"fixture", fixture(), false, ExitFail, 7, 1, 1, 1},
		{"suite error without failing step", suiteErrorOnly, false, ExitFail, 4, 0, 0, 0},
		{"step without status", unknownStatus, false, ExitFail, 3, 0, 1, 0},
		{"no suites", &Report{}, false, ExitFail, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, tt.report.Passed(), tt.passed, "Passed")
			equal(t, tt.report.ExitCode(), tt.exit, "ExitCode")
			p, f, e, s := tt.report.Counts()
			equal(t, []int{p, f, e, s}, []int{tt.cPassed, tt.cFailed, tt.cErr, tt.cSkipped}, "Counts")
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{500 * time.Nanosecond, "500ns"},
		{850 * time.Microsecond, "850µs"},
		{999_999 * time.Nanosecond, "1ms"},
		{12 * time.Millisecond, "12ms"},
		{12_400 * time.Microsecond, "12ms"},
		{999_700 * time.Microsecond, "1.00s"},
		{1234 * time.Millisecond, "1.23s"},
		{59_999 * time.Millisecond, "1m0s"},
		{125 * time.Second, "2m5s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			equal(t, humanDuration(tt.in), tt.want)
		})
	}
}

func TestStepRowsAlignsByNameAndOccurrence(t *testing.T) {
	blue := &SuiteReport{Steps: []StepReport{{Name: "a"}, {Name: "poll", TraceID: "b1"}, {Name: "poll", TraceID: "b2"}}}
	green := &SuiteReport{Steps: []StepReport{{Name: "poll", TraceID: "g1"}, {Name: "b"}}}
	rows := stepRows([]*SuiteReport{blue, green})
	var names []string
	for _, r := range rows {
		names = append(names, r.name)
	}
	equal(t, names, []string{"a", "poll", "poll", "b"})
	equal(t, rows[1].cells, []*StepReport{&blue.Steps[1], &green.Steps[0]}, "first polls side by side")
	equal(t, rows[2].cells, []*StepReport{&blue.Steps[2], nil}, "green has one poll only")
	equal(t, rows[3].cells, []*StepReport{nil, &green.Steps[1]})
}
