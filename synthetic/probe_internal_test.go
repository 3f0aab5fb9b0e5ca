package synthetic

import (
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
)

func TestProbeFrom(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	passed := func(name string, lat int) smoke.StepResult {
		return smoke.StepResult{Name: name, Status: smoke.Passed, StatusCode: 200, Latency: ms(lat), Attempts: 1}
	}
	tests := []struct {
		name     string
		res      smoke.SuiteResult
		want     Probe
		complete bool
	}{
		{
			name: "all passed",
			res:  smoke.SuiteResult{Status: smoke.Passed, Steps: []smoke.StepResult{passed("a", 10), passed("b", 5)}},
			want: Probe{OK: true, Latency: ms(15), Steps: []StepProbe{
				{Name: "a", OK: true, Latency: ms(10), StatusCode: 200},
				{Name: "b", OK: true, Latency: ms(5), StatusCode: 200},
			}},
			complete: true,
		},
		{
			name: "failed condition, later step skipped",
			res: smoke.SuiteResult{Status: smoke.Failed, Steps: []smoke.StepResult{
				passed("a", 10),
				{Name: "b", Status: smoke.Failed, StatusCode: 500, Latency: ms(3), Conditions: []smoke.ConditionResult{
					{Expression: "json.ok", Passed: true},
					{Expression: "status == 200", Detail: "status (500) == 200"},
				}},
				{Name: "c", Status: smoke.Skipped},
			}},
			want: Probe{Latency: ms(13), Err: "b: status (500) == 200", Steps: []StepProbe{
				{Name: "a", OK: true, Latency: ms(10), StatusCode: 200},
				{Name: "b", Latency: ms(3), StatusCode: 500, Err: "status (500) == 200"},
			}},
		},
		{
			name: "no response",
			res: smoke.SuiteResult{Status: smoke.Failed, Steps: []smoke.StepResult{
				{Name: "a", Status: smoke.Errored, Err: "connection refused", Latency: ms(7)},
			}},
			want: Probe{Err: "a: connection refused", Steps: []StepProbe{{Name: "a", Err: "connection refused"}}},
		},
		{
			name: "suite stopped before any step",
			res:  smoke.SuiteResult{Status: smoke.Failed, Err: "suite timeout 5s exceeded", Steps: []smoke.StepResult{{Name: "a", Status: smoke.Skipped}}},
			want: Probe{Err: "suite timeout 5s exceeded", Steps: []StepProbe{}},
		},
		{
			name: "an always step that passes does not hide the failure",
			res: smoke.SuiteResult{Status: smoke.Failed, Steps: []smoke.StepResult{
				{Name: "a", Status: smoke.Failed, StatusCode: 404, Latency: ms(2), Err: "capture id: no such key"},
				{Name: "cleanup", Status: smoke.Passed, StatusCode: 204, Latency: ms(1), Always: true},
			}},
			want: Probe{Latency: ms(3), Err: "a: capture id: no such key", Steps: []StepProbe{
				{Name: "a", Latency: ms(2), StatusCode: 404, Err: "capture id: no such key"},
				{Name: "cleanup", OK: true, Latency: ms(1), StatusCode: 204},
			}},
			complete: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.res.Environment, tt.res.StartedAt = "green", start
			got := probeFrom(&tt.res, "m", Candidate, 7)
			want := tt.want
			want.Monitor, want.Env, want.Role, want.Seq, want.Start = "m", "green", Candidate, 7, start
			assert.Equal(t, want, got)
			assert.Equal(t, tt.complete, complete(&got, len(tt.res.Steps)))
		})
	}
}
