package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// verify with a suites folder needs the secrets of the suites its analysis runs, not those of
// every suite in the folder.
func TestVerifyNeedsOnlyTheSecretsOfSuitesItRuns(t *testing.T) {
	const unset = "GL_TEST_OTHER_SUITE_TOKEN"
	t.Setenv(unset, "")
	require.NoError(t, os.Unsetenv(unset))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	suites := filepath.Join(dir, "suites")
	require.NoError(t, os.Mkdir(suites, 0o700))
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	write("suites/used.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: used}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
`)
	write("suites/other.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: other}
secrets: {token: {env: `+unset+`}}
steps:
  - {name: health, http: {url: /health, headers: {Authorization: "Bearer {{ secret `+"`token`"+` }}"}}}
`)
	analysisUsing := func(suite string) string {
		return write("analysis-"+suite+".yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [`+suite+`]
monitors: [{name: m, every: 1s, suite: used}]
checks: [{name: e, errorRate: {from: m, maxIncrease: 1%}}]
`)
	}

	code, out, errOut := cli(t, "verify", analysisUsing("used"), suites, "--env", "blue="+srv.URL, "--env", "green="+srv.URL)
	assert.Equal(t, verdict.ExitFail, code, "the run goes on (and its smoke gate fails): %s%s", out, errOut)
	assert.NotContains(t, out+errOut, unset)

	code, out, errOut = cli(t, "verify", analysisUsing("other"), suites, "--env", "blue="+srv.URL, "--env", "green="+srv.URL)
	assert.Equal(t, verdict.ExitInvalid, code, out+errOut)
	assert.Contains(t, errOut, filepath.Join(suites, "other.yaml")+`:4:18: secret "token": secret environment variable "`+unset+`" is not set`)
	assert.Equal(t, 2, strings.Count(errOut, "\n"), "one error: %s", errOut)
}
