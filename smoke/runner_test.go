package smoke_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunSkipsAfterFailure(t *testing.T) {
	rc, srv := newRecorder(t, statusHandler())
	tests := []struct {
		name      string
		brokenURL string // the second step's URL
		want      []smoke.Status
	}{
		{
			name:      "after a failed condition",
			brokenURL: "/broken?status=500",
			want:      []smoke.Status{smoke.Passed, smoke.Failed, smoke.Skipped, smoke.Passed, smoke.Skipped},
		},
		{
			name:      "after an errored step",
			brokenURL: closedURL(t) + "/broken",
			want:      []smoke.Status{smoke.Passed, smoke.Errored, smoke.Skipped, smoke.Passed, smoke.Skipped},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			suite := parseSuite(t, fmt.Sprintf(`
steps:
  - name: first
    http: {url: /first}
  - name: broken
    http: {url: %q}
    expect: [status == 200]
  - name: after
    http: {url: /after}
  - name: cleanup
    always: true
    http: {url: /cleanup}
  - name: after-cleanup
    http: {url: /after-cleanup}
`, tt.brokenURL))
			before := len(rc.paths())
			res := runSuite(t, suite, srv.URL)

			require.Equal(t, tt.want, statuses(res), dump(res))
			assert.Equal(t, smoke.Failed, res.Status)
			assert.False(t, res.Passed())
			assert.Empty(t, res.Err, "a step failure is not a suite-level problem")
			cleanup := step(t, res, "cleanup")
			assert.True(t, cleanup.Always)
			assert.Equal(t, 1, cleanup.Attempts)
			skipped := step(t, res, "after")
			assert.Zero(t, skipped.Attempts, "a skipped step makes no attempt")
			assert.Empty(t, skipped.Request)

			var hit []string
			for _, p := range rc.paths()[before:] {
				if p != "/broken" {
					hit = append(hit, p)
				}
			}
			assert.Equal(t, []string{"/first", "/cleanup"}, hit, "skipped steps must send nothing")
		})
	}
}

func TestRunTimeouts(t *testing.T) {
	_, srv := newRecorder(t, sleepHandler())
	tests := []struct {
		name       string
		suite      string
		want       []smoke.Status
		wantErr    map[string]string        // step name → substring of its Err
		wantSuite  string                   // SuiteResult.Err
		minElapsed map[string]time.Duration // lower bounds of Duration and, for passed steps, Latency
	}{
		{
			name: "step timeout",
			suite: `
steps:
  - name: slow
    timeout: 50ms
    http: {url: "/sleep?ms=5000"}
`,
			want:       []smoke.Status{smoke.Errored},
			wantErr:    map[string]string{"slow": "timed out after 50ms"},
			minElapsed: map[string]time.Duration{"slow": 50 * time.Millisecond},
		},
		{
			name: "suite timeout during a step",
			suite: `
timeout: 100ms
steps:
  - name: slow
    http: {url: "/sleep?ms=5000"}
  - name: next
    http: {url: "/sleep?ms=0"}
  - name: cleanup
    always: true
    http: {url: "/sleep?ms=0"}
`,
			want:      []smoke.Status{smoke.Errored, smoke.Skipped, smoke.Passed},
			wantSuite: "suite timeout 100ms exceeded",
		},
		{
			name: "suite timeout between steps",
			// An always step is not cut by the suite timeout, so it overruns it deterministically.
			suite: `
timeout: 50ms
steps:
  - name: long-always
    always: true
    http: {url: "/sleep?ms=150"}
  - name: next
    http: {url: "/sleep?ms=0"}
  - name: cleanup
    always: true
    http: {url: "/sleep?ms=0"}
`,
			want:       []smoke.Status{smoke.Passed, smoke.Skipped, smoke.Passed},
			wantSuite:  "suite timeout 50ms exceeded",
			minElapsed: map[string]time.Duration{"long-always": 150 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runSuite(t, parseSuite(t, tt.suite), srv.URL)
			require.Equal(t, tt.want, statuses(res), dump(res))
			assert.Equal(t, smoke.Failed, res.Status)
			assert.Equal(t, tt.wantSuite, res.Err)
			for name, want := range tt.wantErr {
				assert.Contains(t, step(t, res, name).Err, want, name)
			}
			for name, min := range tt.minElapsed {
				s := step(t, res, name)
				assert.GreaterOrEqual(t, s.Duration, min, "%s Duration", name)
				if s.Status == smoke.Passed {
					assert.GreaterOrEqual(t, s.Latency, min, "%s Latency", name)
				}
			}
		})
	}
}

// TestRunInterrupted cancels the caller's context while a step waits on the server: later steps
// are skipped, cleanup still runs and the result says why the run stopped.
func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		name  string
		steps string
		want  []smoke.Status
	}{
		{
			name: "during a step",
			steps: `
  - name: hang
    http: {url: /hang}
  - name: next
    http: {url: /fast}
  - name: cleanup
    always: true
    http: {url: /fast}
`,
			want: []smoke.Status{smoke.Errored, smoke.Skipped, smoke.Passed},
		},
		{
			name: "during an always step that completes",
			// The always step is not cut by the interruption (it is cleanup) and passes.
			steps: `
  - name: hang
    always: true
    http: {url: "/hang?ms=50"}
  - name: next
    http: {url: /fast}
  - name: cleanup
    always: true
    http: {url: /fast}
`,
			want: []smoke.Status{smoke.Passed, smoke.Skipped, smoke.Passed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				var wait <-chan time.Time // nil: until the client gives up
				if ms := r.URL.Query().Get("ms"); ms != "" {
					d, _ := time.ParseDuration(ms + "ms")
					wait = time.After(d)
				}
				select {
				case <-wait:
					writeJSON(w, http.StatusOK, map[string]any{"ok": true})
				case <-r.Context().Done():
				}
			})
			mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]any{"ok": true})
			})
			_, srv := newRecorder(t, mux)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				<-started
				cancel()
			}()
			res := smoke.NewRunner(testUserAgent, nil).Run(ctx, parseSuite(t, "steps:"+tt.steps), "green", green(srv.URL))
			require.Equal(t, tt.want, statuses(res), dump(res))
			assert.Equal(t, smoke.Failed, res.Status)
			assert.Contains(t, res.Err, "interrupted", "the result must say the run was interrupted")
		})
	}
}

// TestRunConcurrent shares one Runner (and its transports) between suites run in parallel; run
// it with -race.
func TestRunConcurrent(t *testing.T) {
	rc, srv := newRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "n": r.URL.Query().Get("n")})
	}))
	runner := smoke.NewRunner(testUserAgent, nil)
	var mu sync.Mutex
	seen := 0
	runner.OnStep = func(_ *specs.Suite, _ string, _ smoke.StepResult) {
		mu.Lock()
		seen++
		mu.Unlock()
	}
	shared := parseSuite(t, `
steps:
  - name: first
    http: {url: "/c?n=1"}
    capture: {n: json.n}
  - name: second
    http: {url: "/c?n={{ .n }}2"}
    expect: [json.n == "12"]
`)
	const suites = 8
	results := make([]*smoke.SuiteResult, suites)
	var wg sync.WaitGroup
	for i := range suites {
		suite := shared
		if i%2 == 1 {
			// Half the runs share one parsed suite, half have one of their own.
			suite = parseSuite(t, fmt.Sprintf(`
vars: {i: "%d"}
steps:
  - name: own
    http: {url: "/c?n={{ .vars.i }}"}
    expect: [json.n == vars.i]
`, i))
		}
		wg.Go(func() {
			results[i] = runner.Run(t.Context(), suite, "green", green(srv.URL))
		})
	}
	wg.Wait()
	steps := 0
	for i, res := range results {
		assert.True(t, res.Passed(), "suite %d: %s", i, dump(res))
		steps += len(res.Steps)
	}
	assert.Len(t, rc.requests(), steps, "one request per step")
	assert.Equal(t, steps, seen, "OnStep calls")
}
