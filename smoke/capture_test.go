package smoke_test

import (
	"net/http"
	"testing"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureServer answers /source with a value for each capture form, and records /use.
func captureServer(t *testing.T) (*recorder, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/source", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-9")
		writeJSON(w, http.StatusCreated, map[string]any{
			"token": "tok-123",
			"a":     map[string]any{"b": []any{42, 7}},
			"note":  "see ref=REF-77 for details",
		})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	rc, srv := newRecorder(t, mux)
	return rc, srv.URL
}

func TestCapturesFeedLaterSteps(t *testing.T) {
	rc, url := captureServer(t)
	suite := parseSuite(t, `
steps:
  - name: source
    http: {method: POST, url: /source}
    expect: [status == 201]
    capture:
      token: json.token
      id: {json: "$.a.b[0]"}
      second: {json: "a.b[1]"}
      reqid: {header: x-request-id}
      ref: {regex: 'ref=REF-(\d+)'}
      whole: {regex: 'ref=(REF)-(\d+)', group: 0}
      code: {status: true}
  - name: use
    http:
      method: POST
      url: /use/{{ .id }}/{{ .captures.token }}
      query: {code: "{{ .captures.code }}"}
      headers: {X-Req: "{{ .captures.reqid }}", X-Whole: "{{ .whole }}"}
      json:
        id: "{{ .captures.id }}"
        ref: "{{ .captures.ref }}"
        nested: {second: "{{ .second }}"}
`)
	res := runSuite(t, suite, url)
	require.True(t, res.Passed(), dump(res))
	assert.Equal(t, []string{"code", "id", "ref", "reqid", "second", "token", "whole"}, step(t, res, "source").Captured)

	reqs := rc.requests()
	require.Len(t, reqs, 2)
	use := reqs[1]
	assert.Equal(t, "/use/42/tok-123", use.Path, "JSON captures in the URL")
	assert.Equal(t, "code=201", use.Query, "status capture in the query")
	assert.Equal(t, "req-9", use.Header.Get("X-Req"), "header capture in a header")
	assert.Equal(t, "ref=REF-77", use.Header.Get("X-Whole"), "regex group 0")
	assert.Equal(t, "application/json", use.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"id":"42","ref":"77","nested":{"second":"7"}}`, use.Body, "captures in the JSON body")
}

func TestCaptureFailureFailsStep(t *testing.T) {
	tests := []struct {
		name    string
		capture string
		wantErr []string
	}{
		{
			name:    "missing JSON field, expression form",
			capture: "{missing: json.nothere}",
			wantErr: []string{"capture missing:", `JSON has no field "nothere"`},
		},
		{
			name:    "missing JSON field, json form",
			capture: `{missing: {json: "$.a.c"}}`,
			wantErr: []string{"capture missing:", `JSON has no field "c"`},
		},
		{
			name:    "index out of range",
			capture: `{missing: {json: "$.a.b[5]"}}`,
			wantErr: []string{"capture missing:", "index 5 out of range"},
		},
		{
			name:    "missing header",
			capture: "{missing: {header: X-Absent}}",
			wantErr: []string{"capture missing:", `no header "X-Absent"`},
		},
		{
			name:    "regex without match",
			capture: `{missing: {regex: 'nomatch=(\d+)'}}`,
			wantErr: []string{"capture missing:", "does not match the body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, url := captureServer(t)
			res := runSuite(t, parseSuite(t, `
steps:
  - name: source
    http: {method: POST, url: /source}
    expect: [status == 201]
    capture: `+tt.capture+`
  - name: use
    http: {url: "/use/{{ .missing }}"}
`), url)
			src := step(t, res, "source")
			require.Equal(t, smoke.Failed, src.Status, dump(res))
			for _, want := range tt.wantErr {
				assert.Contains(t, src.Err, want)
			}
			assert.Empty(t, src.Captured)
			assert.Equal(t, smoke.Skipped, step(t, res, "use").Status)
			assert.Len(t, rc.requests(), 1, "the next step sent nothing")
		})
	}
}
