package smoke_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flaky answers `fail` with its first n requests, then 200; n < 0 fails forever.
type flaky struct {
	mu    sync.Mutex
	fail  int
	n     int
	calls int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	failing := f.n < 0 || f.calls <= f.n
	f.mu.Unlock()
	if failing {
		writeJSON(w, f.fail, map[string]any{"ok": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestRetriesOnStatus(t *testing.T) {
	tests := []struct {
		name      string
		fail, n   int
		retries   string // YAML for the step's retries, "" for none
		status    smoke.Status
		attempts  int
		code      int
		minWait   time.Duration
		condition string // Detail of the failed condition, if any
	}{
		{
			name: "503 twice then 200, retried on 5xx", fail: 503, n: 2,
			retries: "{attempts: 3, backoff: 10ms, on: [5xx]}",
			status:  smoke.Passed, attempts: 3, code: 200,
			minWait: 10*time.Millisecond + 20*time.Millisecond,
		},
		{
			name: "5xx not in on", fail: 503, n: 2,
			retries: "{attempts: 3, backoff: 10ms, on: [connection, 429]}",
			status:  smoke.Failed, attempts: 1, code: 503, condition: "status (503) == 200",
		},
		{
			name: "no retries at all", fail: 500, n: 1,
			status: smoke.Failed, attempts: 1, code: 500, condition: "status (500) == 200",
		},
		{
			name: "5xx attempts exhausted", fail: 502, n: -1,
			retries: "{attempts: 3, backoff: 1ms, on: [5xx]}",
			status:  smoke.Failed, attempts: 3, code: 502, condition: "status (502) == 200",
		},
		{
			name: "429 twice then 200, retried on 429", fail: 429, n: 2,
			retries: "{attempts: 3, backoff: 10ms, on: ['429']}",
			status:  smoke.Passed, attempts: 3, code: 200,
			minWait: 30 * time.Millisecond,
		},
		{
			name: "429 attempts exhausted", fail: 429, n: -1,
			retries: "{attempts: 4, backoff: 1ms, on: ['429']}",
			status:  smoke.Failed, attempts: 4, code: 429, condition: "status (429) == 200",
		},
		{
			name: "429 is not 5xx", fail: 429, n: 2,
			retries: "{attempts: 3, backoff: 1ms, on: [5xx]}",
			status:  smoke.Failed, attempts: 1, code: 429, condition: "status (429) == 200",
		},
		{
			name: "4xx is never transient", fail: 404, n: 2,
			retries: "{attempts: 3, backoff: 1ms, on: [5xx, '429', connection, timeout]}",
			status:  smoke.Failed, attempts: 1, code: 404, condition: "status (404) == 200",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{fail: tt.fail, n: tt.n}
			_, srv := newRecorder(t, f)
			body := "steps:\n  - name: s\n    http: {url: /flaky}\n    expect: [status == 200]\n"
			if tt.retries != "" {
				body += "    retries: " + tt.retries + "\n"
			}
			res := runSuite(t, parseSuite(t, body), srv.URL)
			s := step(t, res, "s")
			assert.Equal(t, tt.status, s.Status, dump(res))
			assert.Equal(t, tt.attempts, s.Attempts, "Attempts")
			assert.Equal(t, tt.attempts, f.count(), "requests the server saw")
			assert.Equal(t, tt.code, s.StatusCode, "the last attempt's status")
			assert.GreaterOrEqual(t, s.Duration, tt.minWait, "the retries waited at least the backoff")
			if tt.condition != "" {
				require.Len(t, s.Conditions, 1)
				assert.Equal(t, tt.condition, s.Conditions[0].Detail)
			}
			assert.Empty(t, s.Err, "a bad status after retries is a failed condition, not an error")
		})
	}
}

func TestRetriesOnConnectionError(t *testing.T) {
	url := closedURL(t)
	tests := []struct {
		name     string
		retries  string
		attempts int
		minWait  time.Duration
	}{
		{name: "retried on connection", retries: "{attempts: 3, backoff: 10ms, on: [connection]}", attempts: 3, minWait: 30 * time.Millisecond},
		{name: "connection is the default on", retries: "{attempts: 2, backoff: 5ms}", attempts: 2, minWait: 5 * time.Millisecond},
		{name: "not retried on 5xx only", retries: "{attempts: 3, backoff: 10ms, on: [5xx]}", attempts: 1},
		{name: "inherited from defaults", retries: "", attempts: 3, minWait: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "defaults: {retries: {attempts: 3, backoff: 1ms}}\nsteps:\n  - name: s\n    http: {url: /x}\n"
			if tt.retries != "" {
				body += "    retries: " + tt.retries + "\n"
			}
			res := runSuite(t, parseSuite(t, body), url)
			s := step(t, res, "s")
			assert.Equal(t, smoke.Errored, s.Status, dump(res))
			assert.Equal(t, tt.attempts, s.Attempts, "Attempts")
			assert.Contains(t, s.Err, "connection refused")
			assert.GreaterOrEqual(t, s.Duration, tt.minWait, "the retries waited at least the backoff")
			assert.Equal(t, "GET "+url+"/x", s.Request)
		})
	}
}

func TestRetriesOnTimeout(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	_, srv := newRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-r.Context().Done() // hang until the step timeout cuts the attempt
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	tests := []struct {
		name     string
		on       string
		status   smoke.Status
		attempts int
	}{
		{name: "retried on timeout", on: "[timeout]", status: smoke.Passed, attempts: 2},
		{name: "not retried on connection", on: "[connection]", status: smoke.Errored, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			calls = 0
			mu.Unlock()
			res := runSuite(t, parseSuite(t, fmt.Sprintf(`
steps:
  - name: s
    timeout: 50ms
    retries: {attempts: 3, backoff: 1ms, on: %s}
    http: {url: /t}
    expect: [status == 200]
`, tt.on)), srv.URL)
			s := step(t, res, "s")
			assert.Equal(t, tt.status, s.Status, dump(res))
			assert.Equal(t, tt.attempts, s.Attempts, "Attempts")
			if tt.status == smoke.Errored {
				assert.Equal(t, "timed out after 50ms (step timeout)", s.Err)
			}
			assert.GreaterOrEqual(t, s.Duration, 50*time.Millisecond, "the first attempt ran to its timeout")
		})
	}
}
