package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

// cli runs the command line in-process and returns exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (verdict.ExitCode, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func startApp(t *testing.T, cfg app.Config) string {
	t.Helper()
	srv, err := app.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv.URL
}

const checkout = "../../examples/suites/checkout-smoke.yaml"

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := cli(t, "version")
	assert.Equal(t, verdict.ExitPass, code)
	assert.True(t, strings.HasPrefix(out, "greenlight "), out)

	code, out, _ = cli(t, "help")
	assert.Equal(t, verdict.ExitPass, code)
	for _, sub := range []string{"smoke", "validate", "schema", "demo", "completion", "version"} {
		assert.Contains(t, out, sub)
	}
	code, out, _ = cli(t, "completion", "bash")
	assert.Equal(t, verdict.ExitPass, code)
	assert.Contains(t, out, "__start_greenlight")
}

func TestValidate(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	code, out, errOut := cli(t, "validate", "../../examples/suites", "../../examples/analyses")
	assert.Equal(t, verdict.ExitPass, code, errOut)
	assert.Equal(t, "3 suites, 12 steps, 1 analysis: valid\n", out)

	code, _, errOut = cli(t, "validate", "../../specs/testdata/invalid-unknown-field.yaml", "../../specs/testdata/invalid-wrong-type.yaml")
	assert.Equal(t, verdict.ExitInvalid, code)
	assert.Contains(t, errOut, `invalid-unknown-field.yaml:6:26: unknown field "metod" (did you mean "method"?)`)
	assert.Contains(t, errOut, `invalid-wrong-type.yaml:6:13: always: expected a boolean (true or false), got "maybe"`)

	code, _, errOut = cli(t, "validate", "no-such-file.yaml")
	assert.Equal(t, verdict.ExitInvalid, code)
	assert.Contains(t, errOut, "no-such-file.yaml: no such file or folder")

	code, _, _ = cli(t, "validate")
	assert.Equal(t, verdict.ExitInvalid, code, "missing argument is invalid input")
	code, _, _ = cli(t, "validate", "--bogus", checkout)
	assert.Equal(t, verdict.ExitInvalid, code, "unknown flag is invalid input")
}

func TestSchemaCommand(t *testing.T) {
	code, out, _ := cli(t, "schema")
	require.Equal(t, verdict.ExitPass, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Contains(t, out, `"greenlight/v1"`)
}

func TestSmokeInvalidInput(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no environment", []string{"smoke", checkout}, "no environment"},
		{"both target and env", []string{"smoke", checkout, "--target", "http://a", "--env", "b=http://b"}, "either --target or --env"},
		{"bad env", []string{"smoke", checkout, "--env", "blue"}, "want NAME=URL"},
		{"not a url", []string{"smoke", checkout, "--env", "blue=ftp://x"}, "is not an http(s) URL"},
		{"bad report", []string{"smoke", checkout, "--target", "http://a", "--report", "html=x.html"}, `unknown format "html"`},
		{"bad output", []string{"smoke", checkout, "--target", "http://a", "-o", "yaml"}, "want text or json"},
		{"missing environment for a step", []string{"smoke", "../../examples/suites/rollback-rehearsal.yaml", "--env", "green=http://g"}, `unknown environment "blue": give it with --env blue=URL`},
		{"bad var", []string{"smoke", checkout, "--target", "http://a", "--var", "novalue"}, "want NAME=VALUE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, verdict.ExitInvalid, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func TestSmokeAgainstExampleApp(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	summary := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	url := startApp(t, app.Config{Color: "green"})
	dir := t.TempDir()
	junit, jsonFile, md := filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")

	code, out, errOut := cli(t, "smoke", checkout, "--target", url, "--report", "junit="+junit, "--report", "json="+jsonFile, "--report", "markdown="+md)
	require.Equal(t, verdict.ExitPass, code, out+errOut)
	for _, step := range []string{"health", "login", "profile", "create-order", "read-order"} {
		assert.Contains(t, out, "✓ "+step)
	}
	assert.Contains(t, out, "5 passed")
	assert.NotContains(t, out, "request: ", "request lines only with --verbose")

	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	require.NoError(t, xml.Unmarshal(readFile(t, junit), &suites))
	assert.Equal(t, 5, suites.Tests)
	assert.Equal(t, 0, suites.Failures)

	var rep verdict.Report
	require.NoError(t, json.Unmarshal(readFile(t, jsonFile), &rep))
	require.Len(t, rep.Suites, 1)
	assert.Equal(t, verdict.StatusPassed, rep.Suites[0].Status)
	assert.Equal(t, "target", rep.Suites[0].Environment)

	assert.Contains(t, string(readFile(t, md)), "checkout-smoke")
	assert.Equal(t, readFile(t, md), readFile(t, summary), "the step summary gets the same Markdown")

	code, out, _ = cli(t, "smoke", checkout, "--target", url, "-v")
	require.Equal(t, verdict.ExitPass, code)
	assert.Contains(t, out, "request: POST "+url+"/auth/login")
	assert.Contains(t, out, "✓ json.username == vars.user")
}

func TestSmokeFailureExplains(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	blue := startApp(t, app.Config{Color: "blue"})
	green := startApp(t, app.Config{Color: "green", Faults: app.Faults{ErrorRate: map[string]float64{"/api/user/profile": 1}}})

	code, out, _ := cli(t, "smoke", checkout, "--env", "blue="+blue, "--env", "green="+green)
	assert.Equal(t, verdict.ExitFail, code)
	assert.Contains(t, out, "status (500) == 200", "the failed condition shows the resolved value")
	assert.Contains(t, out, "[checkout-smoke/green] ✗ profile")
	assert.Contains(t, out, "[checkout-smoke/blue] ✓ profile")
	assert.Regexp(t, `checkout-smoke\s+blue\s+green`, out, "results side by side")

	code, out, _ = cli(t, "smoke", checkout, "--env", "blue="+blue, "--env", "green="+green, "-o", "json")
	assert.Equal(t, verdict.ExitFail, code)
	var rep verdict.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "--output json prints only JSON")
	require.Len(t, rep.Suites, 2)
	assert.Equal(t, verdict.StatusPassed, rep.Suites[0].Status)
	assert.Equal(t, verdict.StatusFailed, rep.Suites[1].Status)
}

func TestSmokeParallelSuites(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	url := startApp(t, app.Config{})
	dir := t.TempDir()
	src, err := os.ReadFile(checkout)
	require.NoError(t, err)
	var paths []string
	for _, n := range []string{"a", "b", "c", "d"} {
		p := filepath.Join(dir, n+".yaml")
		require.NoError(t, os.WriteFile(p, bytes.Replace(src, []byte("name: checkout-smoke"), []byte("name: smoke-"+n), 1), 0o644))
		paths = append(paths, p)
	}
	code, out, errOut := cli(t, append([]string{"smoke", "--parallel", "4", "--target", url}, paths...)...)
	require.Equal(t, verdict.ExitPass, code, out+errOut)
	assert.Contains(t, out, "20 passed")
}

// TestSecretsNeverLeak puts a secret in a URL, a header and a body, against a server that echoes
// all three back with a 500, and checks every output: stdout, stderr, JUnit, JSON, Markdown.
func TestSecretsNeverLeak(t *testing.T) {
	const secret = "s3cr3t-Value/+="
	t.Setenv("GL_TEST_TOKEN", secret)
	var mu sync.Mutex
	var received []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echo := r.URL.String() + " " + r.Header.Get("Authorization") + " " + string(body)
		mu.Lock()
		received = append(received, echo)
		mu.Unlock()
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.WriteHeader(500)
		_, _ = io.WriteString(w, echo)
	}))
	defer srv.Close()

	dir := t.TempDir()
	suite := filepath.Join(dir, "leak.yaml")
	require.NoError(t, os.WriteFile(suite, []byte(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: leak}
secrets:
  token: {env: GL_TEST_TOKEN}
steps:
  - name: url
    http: {url: '/q?key={{ secret "token" }}'}
    expect: ['status == 200', 'body == "x"']
  - name: header-and-body
    always: true
    http:
      method: POST
      url: /h
      headers: {Authorization: 'Bearer {{ secret "token" }}'}
      json: {password: '{{ secret "token" }}'}
    expect: ['header("X-Echo") == "none"', 'json.password == "x"']
    capture: {echoed: {header: X-Echo}}
  - name: capture-into-url
    always: true
    http: {url: '/c/{{ .captures.echoed }}'}
`), 0o644))
	junit, js, md := filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
	t.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(dir, "summary.md"))

	for _, output := range []string{"text", "json"} {
		code, out, errOut := cli(t, "smoke", suite, "--target", srv.URL, "-o", output,
			"--report", "junit="+junit, "--report", "json="+js, "--report", "markdown="+md)
		assert.Equal(t, verdict.ExitFail, code)
		outputs := map[string]string{"stdout": out, "stderr": errOut}
		for _, f := range []string{junit, js, md, filepath.Join(dir, "summary.md")} {
			outputs[filepath.Base(f)] = string(readFile(t, f))
		}
		for name, text := range outputs {
			for _, form := range []string{secret, "s3cr3t-Value%2F%2B%3D", "s3cr3t"} {
				assert.NotContains(t, text, form, "%s (%s) leaks the secret", name, output)
			}
		}
		assert.Contains(t, out, "<secret>", "the failure details are there, redacted")
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, received)
	assert.Contains(t, strings.Join(received, "\n"), secret, "the server did receive the secret")
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// TestPublishedSchemaIsCurrent keeps docs/greenlight.schema.json (what the example specs'
// yaml-language-server modelines point at) equal to `greenlight schema`.
func TestPublishedSchemaIsCurrent(t *testing.T) {
	code, out, _ := cli(t, "schema")
	require.Equal(t, verdict.ExitPass, code)
	assert.Equal(t, out, string(readFile(t, "../../docs/greenlight.schema.json")),
		"regenerate with: go run ./cmd/greenlight schema > docs/greenlight.schema.json")
}
