package specs

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// compile compiles one condition the way a spec file would, in dir (for schema files).
func compile(t *testing.T, dir, src string) *Condition {
	t.Helper()
	var errs Errors
	d := &decoder{file: filepath.Join(dir, "t.yaml"), errs: &errs, ctx: newLoadContext(filepath.Join(dir, "t.yaml"), LoadOptions{LookupEnv: noEnv})}
	c, err := d.compileCondition(&yaml.Node{Kind: yaml.ScalarNode, Value: src, Line: 1, Column: 1}, src, true)
	require.NoError(t, err, "%v", errs)
	require.Empty(t, errs)
	return c
}

func response(status int, body string, h ...string) *Response {
	hdr := http.Header{}
	for i := 0; i+1 < len(h); i += 2 {
		hdr.Add(h[i], h[i+1])
	}
	return &Response{Status: status, Headers: hdr, Body: []byte(body), JSON: parseJSONForTest(body), Duration: 120 * time.Millisecond,
		Vars: map[string]string{"user": "testuser"}, Captures: map[string]any{"id": int64(7)}, Env: EnvData{Name: "green"}}
}

func TestConditions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "user.json"), []byte(`{"type":"object","required":["user"],"properties":{"user":{"type":"object","properties":{"id":{"type":"integer"}}}}}`), 0o644))
	ok := response(200, `{"token":"abc","user":{"id":7,"name":"testuser"},"items":[1,2,3]}`, "Content-Type", "application/json; charset=utf-8")
	bad := response(500, `{"error":"boom","user":{"id":"seven"},"items":[]}`, "Content-Type", "text/plain")
	cases := []struct {
		expr       string
		onOK       bool
		badOK      bool
		wantDetail string // detail when evaluated on bad
	}{
		{"status == 200", true, false, `status (500) == 200`},
		{"status < 400", true, false, `status (500) < 400`},
		{"json.token != ''", true, false, `json.token != '': JSON has no field "token"`},
		{"json?.token == nil", false, true, `json?.token ("abc") == nil`},
		{"duration < 300ms", true, true, ``},
		{"duration < 100ms", false, false, `duration (120ms) < 100ms`},
		{"duration >= 1m30s", false, false, `duration (120ms) >= 1m30s`},
		{"body contains 'error'", false, true, ``},
		{"body matches '^\\\\{\"token'", true, false, `body ("{\"error\":\"boom\",\"user\":{\"id\":\"seven\"},\"items\":[]}") matches "^\\{\"token"`},
		{"header('content-type') contains 'json'", true, false, `header("content-type") ("text/plain") contains "json"`},
		{"headers['Content-Type'] startsWith 'application/'", true, false, `headers["Content-Type"] ("text/plain") startsWith "application/"`},
		{"json.user.name == vars.user", true, false, `json.user.name == vars.user: JSON has no field "name"`},
		{"json.user.id == captures.id", true, false, `json.user.id ("seven") == captures.id (7)`},
		{"len(json.items) > 0 && status == 200", true, false, `len(json.items) (0) > 0`},
		{"status == 500 && json.error == 'nope'", false, false, `json.error ("boom") == "nope"`},
		{"status == 201 || status == 204", false, false, `status (500) == 201 and status (500) == 204`},
		{"!(status >= 500)", true, false, `not status >= 500 (true)`},
		{"json.items[0] == 1", true, false, `json.items[0] == 1: JSON array index 0 out of range (length 0)`},
		{"env.name == 'green'", true, true, ``},
		{"schema('user.json')", true, false, `schema("user.json") (false)`},
		{"'3s' == '3s'", true, true, ``},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			c := compile(t, dir, tc.expr)
			got, _ := c.Eval(ok)
			assert.Equal(t, tc.onOK, got, "on the good response")
			got, detail := c.Eval(bad)
			assert.Equal(t, tc.badOK, got, "on the bad response")
			if !tc.badOK {
				if tc.expr == "schema('user.json')" {
					assert.Contains(t, detail, tc.wantDetail)
					assert.Contains(t, detail, "at '/user/id'", "the schema error names the failing location")
					assert.NotContains(t, detail, dir, "no machine paths in reasons")
					return
				}
				assert.Equal(t, tc.wantDetail, detail)
			}
		})
	}
}

func TestDurationLiteralsStayInStrings(t *testing.T) {
	out, _ := rewriteDurations(`body == "300ms" && duration < 300ms && x10s == 1 && a.b5m`)
	assert.Equal(t, `body == "300ms" && duration < _dur("300ms") && x10s == 1 && a.b5m`, out)
	out, back := rewriteDurations(`duration < 1m30s && status = 1`)
	assert.Equal(t, `duration < _dur("1m30s") && status = 1`, out)
	// "=" sits at rune 35 of the rewrite and at rune 27 of the source.
	assert.Equal(t, 27, back(35))
	assert.Equal(t, 5, back(5))
}

func TestCaptureExtract(t *testing.T) {
	r := response(201, `{"order":{"id":42,"tags":["a","b"]}} session=abc123`, "Location", "/orders/42")
	r.JSON = map[string]any{"order": map[string]any{"id": 42.0, "tags": []any{"a", "b"}}}
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: c}
steps:
  - name: s
    http: {url: /}
    capture:
      expr: json.order.id
      path: {json: "$.order.tags[1]"}
      loc: {header: location}
      session: {regex: "session=([a-z0-9]+)"}
      code: {status: true}
      missing: json.order.nope
`
	docs, err := Parse("c.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	caps := docs.Suites[0].Steps[0].Capture
	want := map[string]any{"expr": int64(42), "path": "b", "loc": "/orders/42", "session": "abc123", "code": 201}
	for name, v := range want {
		c := caps[name]
		got, err := c.Extract(r)
		require.NoError(t, err, name)
		assert.Equal(t, v, got, name)
	}
	c := caps["missing"]
	_, err = c.Extract(r)
	assert.EqualError(t, err, `json.order.nope: JSON has no field "nope"`)
}

func parseJSONForTest(body string) any {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return nil
	}
	return v
}

// TestConditionsAreBounded: the expression parser recurses per nesting level; a condition of a
// million "(" overflowed its stack and killed the process.
func TestConditionsAreBounded(t *testing.T) {
	head := "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsteps:\n  - name: a\n    http: {url: /}\n    expect: ['"
	cases := []struct {
		name, expr, want string
	}{
		{"a million parentheses", strings.Repeat("(", 1_000_000) + "true" + strings.Repeat(")", 1_000_000), "longer than 4096 characters"},
		{"nested too deep", strings.Repeat("(", 65) + "true" + strings.Repeat(")", 65), "nested deeper than 64 levels"},
		{"too many prefix operators", strings.Repeat("!", 65) + "true", "nested deeper than 64 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(head+tc.expr+"']\n"), LoadOptions{LookupEnv: noEnv})
			require.Error(t, err)
			assert.Equal(t, `c.yaml:7:14: invalid expression "`+truncate(tc.expr, 80)+`": `+tc.want, err.Error())
		})
	}
	t.Run("ordinary nesting", func(t *testing.T) {
		_, err := Parse("c.yaml", []byte(head+strings.Repeat("(", 10)+"status == 200 && !!(1 < 2)"+strings.Repeat(")", 10)+"']\n"), LoadOptions{LookupEnv: noEnv})
		require.NoError(t, err)
	})
}
