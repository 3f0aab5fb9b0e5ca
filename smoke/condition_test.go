package smoke_test

import (
	"net/http"
	"testing"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConditions(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "name": "bob", "items": []int{1, 2}})
	})
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"ok": false})
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("plain text"))
	})
	_, srv := newRecorder(t, mux)

	type cond struct {
		passed bool
		detail string // exact Detail; "" for a passed condition
	}
	tests := []struct {
		name   string
		url    string
		expect string // YAML list, "" for none
		status smoke.Status
		conds  []cond
	}{
		{
			name:   "failing status shows resolved values",
			url:    "/boom",
			expect: "[status == 200]",
			status: smoke.Failed,
			conds:  []cond{{false, "status (500) == 200"}},
		},
		{
			name:   "JSON string comparison shows both sides",
			url:    "/ok",
			expect: `['json.name == "alice"']`,
			status: smoke.Failed,
			conds:  []cond{{false, `json.name ("bob") == "alice"`}},
		},
		{
			name:   "duration on a fast handler",
			url:    "/ok",
			expect: "[duration < 300ms, duration > 0ms]",
			status: smoke.Passed,
			conds:  []cond{{true, ""}, {true, ""}},
		},
		{
			name:   "strict JSON fails on a missing field",
			url:    "/ok",
			expect: `['json.missing != ""']`,
			status: smoke.Failed,
			conds:  []cond{{false, `json.missing != "": JSON has no field "missing"`}},
		},
		{
			name:   "optional JSON access allows absence",
			url:    "/ok",
			expect: `['json?.missing == nil']`,
			status: smoke.Passed,
			conds:  []cond{{true, ""}},
		},
		{
			name:   "JSON condition on a non-JSON body",
			url:    "/text",
			expect: "[json.ok == true]",
			status: smoke.Failed,
			conds:  []cond{{false, "json.ok == true: cannot read field ok of null (is the body JSON?)"}},
		},
		{
			name:   "header function is case-insensitive",
			url:    "/ok",
			expect: `['header("content-type") contains "json"', 'headers["Content-Type"] startsWith "application/"']`,
			status: smoke.Passed,
			conds:  []cond{{true, ""}, {true, ""}},
		},
		{
			name:   "every condition is evaluated after the first fails",
			url:    "/boom",
			expect: `[status == 200, json.ok == true, 'body contains "nope"', 'header("content-type") contains "json"']`,
			status: smoke.Failed,
			conds: []cond{
				{false, "status (500) == 200"},
				{false, "json.ok (false) == true"},
				{false, `body ("{\"ok\":false}\n") contains "nope"`},
				{true, ""},
			},
		},
		{
			name:   "and explains the failing side",
			url:    "/ok",
			expect: `['status == 200 && len(json.items) == 3']`,
			status: smoke.Failed,
			conds:  []cond{{false, "len(json.items) (2) == 3"}},
		},
		{
			name:   "no expect fails on 500",
			url:    "/boom",
			status: smoke.Failed,
			conds:  []cond{{false, "status (500) < 400"}},
		},
		{
			name:   "no expect passes on 200",
			url:    "/ok",
			status: smoke.Passed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "steps:\n  - name: s\n    http: {url: " + tt.url + "}\n"
			if tt.expect != "" {
				body += "    expect: " + tt.expect + "\n"
			}
			res := runSuite(t, parseSuite(t, body), srv.URL)
			s := step(t, res, "s")
			assert.Equal(t, tt.status, s.Status, dump(res))
			require.Len(t, s.Conditions, len(tt.conds), dump(res))
			for i, want := range tt.conds {
				got := s.Conditions[i]
				assert.Equal(t, want, cond{got.Passed, got.Detail}, "condition %d: %s", i, got.Expression)
			}
			if tt.expect == "" && len(tt.conds) == 1 {
				assert.Contains(t, s.Conditions[0].Expression, "implicit")
			}
			wantCode := 200
			if tt.url == "/boom" {
				wantCode = 500
			}
			assert.Equal(t, wantCode, s.StatusCode)
		})
	}
}
