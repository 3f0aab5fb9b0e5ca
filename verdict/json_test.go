package verdict

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
	}{
		{"fixture", fixture()},
		{"passed", passing()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			noErr(t, WriteJSON(&buf, tt.report))
			var got Report
			noErr(t, json.Unmarshal(buf.Bytes(), &got))
			equal(t, &got, tt.report)
		})
	}
}

func TestJSONFields(t *testing.T) {
	r := &Report{
		Tool:     "greenlight",
		Duration: 1234567 * time.Nanosecond,
		Suites: []SuiteReport{{
			Name: "s", Environment: "blue", Status: StatusPassed,
			Steps: []StepReport{{Name: "a -> b", Kind: "http", Status: StatusPassed, Duration: 1500 * time.Microsecond}},
		}},
	}
	var buf bytes.Buffer
	noErr(t, WriteJSON(&buf, r))

	var raw map[string]any
	noErr(t, json.Unmarshal(buf.Bytes(), &raw))
	equal(t, raw["durationMs"], any(1.235), "milliseconds rounded to three decimals")
	equal(t, raw["status"], any("passed"))
	equal(t, raw["counts"], any(map[string]any{"steps": 1.0, "passed": 1.0, "failed": 0.0, "errored": 0.0, "skipped": 0.0}))
	step := raw["suites"].([]any)[0].(map[string]any)["steps"].([]any)[0].(map[string]any)
	equal(t, step["durationMs"], any(1.5))
	if _, ok := step["Duration"]; ok {
		t.Error("Duration leaked into JSON next to durationMs")
	}
	if !strings.Contains(buf.String(), `"a -> b"`) {
		t.Errorf("HTML-escaped output:\n%s", buf.String())
	}
}

func TestJSONEmptyListsAreArrays(t *testing.T) {
	var buf bytes.Buffer
	noErr(t, WriteJSON(&buf, &Report{Suites: []SuiteReport{{Name: "s"}}}))
	var raw map[string]any
	noErr(t, json.Unmarshal(buf.Bytes(), &raw))
	equal(t, raw["suites"].([]any)[0].(map[string]any)["steps"], any([]any{}))

	buf.Reset()
	raw = nil
	noErr(t, WriteJSON(&buf, &Report{}))
	noErr(t, json.Unmarshal(buf.Bytes(), &raw))
	equal(t, raw["suites"], any([]any{}))
	equal(t, raw["status"], any("failed"), "no suites is no evidence")
}
