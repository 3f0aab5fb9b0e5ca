package verdict

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func render(opts TextOptions, r *Report) string {
	var buf bytes.Buffer
	tw := NewTextWriter(&buf, opts)
	for _, s := range r.Suites {
		for _, st := range s.Steps {
			tw.Step(s.Name, s.Environment, st)
		}
	}
	tw.Summary(r)
	return buf.String()
}

func TestTextColor(t *testing.T) {
	tests := []struct {
		name  string
		opts  TextOptions
		codes bool
	}{
		{"plain", TextOptions{}, false},
		{"plain verbose", TextOptions{Verbose: true, Prefix: true}, false},
		{"color", TextOptions{Color: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fixture()
			// An escape code arriving in a message must not reach the terminal either way.
			r.Suites[2].Steps[1].Error = "upstream said \x1b[2Jboom"
			out := render(tt.opts, r)
			equal(t, strings.Contains(out, "\x1b"), tt.codes, "escape codes in output")
			equal(t, strings.Contains(out, "\x1b[2J"), false, "escape code from the report")
			equal(t, strings.Contains(out, `upstream said \x1b[2Jboom`), true, "message shown escaped")
		})
	}
}

// Colour must change nothing but the codes, or the columns would not line up.
func TestTextColorOnlyAddsCodes(t *testing.T) {
	colored := ansiCode.ReplaceAllString(render(TextOptions{Color: true, Prefix: true}, fixture()), "")
	equal(t, colored, render(TextOptions{Prefix: true}, fixture()))
}

func TestTextStep(t *testing.T) {
	tests := []struct {
		name string
		opts TextOptions
		step StepReport
		want string
	}{
		{
			"passed", TextOptions{},
			StepReport{Name: "login", Status: StatusPassed, StatusCode: 200, Duration: 12 * time.Millisecond},
			"✓ login  200  12ms\n",
		},
		{
			"failed with detail", TextOptions{},
			StepReport{Name: "profile", Status: StatusFailed, StatusCode: 500, Duration: 8 * time.Millisecond,
				Conditions: []ConditionReport{
					{Expression: "status == 200", Detail: "status (500) == 200"},
					{Expression: "duration < 300ms", Passed: true},
				}},
			"✗ profile  500  8ms\n    status (500) == 200\n",
		},
		{
			"error with prefix", TextOptions{Prefix: true},
			StepReport{Name: "stock", Status: StatusError, Duration: 5 * time.Second, Attempts: 3,
				Error: "dial tcp: connection refused\r\nretry later"},
			"[inv/target] ! stock  error  5.00s  3 attempts\n    dial tcp: connection refused\n    retry later\n",
		},
		{
			"skipped", TextOptions{},
			StepReport{Name: "order", Status: StatusSkipped},
			"- order  skipped\n",
		},
		{
			"control characters in the name", TextOptions{},
			StepReport{Name: "a\tb\nc", Status: StatusPassed, Duration: time.Millisecond},
			"✓ a\\tb\\nc  1ms\n",
		},
		{
			"verbose", TextOptions{Verbose: true},
			StepReport{Name: "login", Status: StatusPassed, StatusCode: 200, Duration: 850 * time.Microsecond,
				Environment: "blue", Always: true, Request: "POST http://x/login", TraceID: "abc",
				Conditions: []ConditionReport{{Expression: "status == 200", Passed: true}},
				Captured:   []string{"token"}},
			"✓ login  200  850µs  on blue  (always)\n    ✓ status == 200\n    request: POST http://x/login\n    trace: abc\n    captured: token\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewTextWriter(&buf, tt.opts).Step("inv", "target", tt.step)
			equal(t, buf.String(), tt.want)
		})
	}
}

func TestTextWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTextWriter(&buf, TextOptions{Prefix: true})
	step := StepReport{Name: "s", Status: StatusFailed, StatusCode: 500,
		Conditions: []ConditionReport{{Expression: "status == 200", Detail: "status (500) == 200"}}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 50 {
				tw.Step("suite", "env", step)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	equal(t, len(lines), 2000)
	for i := 0; i+1 < len(lines); i += 2 {
		if lines[i] != "[suite/env] ✗ s  500  0s" || lines[i+1] != "    status (500) == 200" {
			t.Fatalf("interleaved at line %d: %q, %q", i, lines[i], lines[i+1])
		}
	}
}
