package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// A verify run that stops on invalid input (exit 3) still writes the reports it was asked for
// and the step summary, so that CI says why the step failed.
func TestVerifyInvalidInputWritesReports(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	spec := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`apiVersion: greenlight/v1
kind: Analysis
metadata: {name: checkout}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, evry: 1s, step: {http: {url: /}}}]
checks: [{name: e, errorRate: {from: m, maxIncrease: 1%}}]
`), 0o600))
	js, junit := filepath.Join(dir, "v.json"), filepath.Join(dir, "v.xml")

	code, _, errOut := cli(t, "verify", spec, "--report", "json="+js, "--report", "junit="+junit)
	require.Equal(t, verdict.ExitInvalid, code, errOut)
	var v struct {
		Verdict  string   `json:"verdict"`
		ExitCode int      `json:"exitCode"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, js), &v))
	assert.Equal(t, "error", v.Verdict)
	assert.Equal(t, 3, v.ExitCode)
	assert.Equal(t, []string{spec + `:7:22: unknown field "evry" (did you mean "every"?)`}, v.Problems)
	assert.Contains(t, string(readFile(t, junit)), `type="invalid-input"`)
	assert.Contains(t, string(readFile(t, summary)), "### ⛔ greenlight: invalid input\n")

	// Invalid once loaded: no URL for an environment. The analysis's name is known by then.
	fixed := filepath.Join(dir, "b.yaml")
	require.NoError(t, os.WriteFile(fixed, []byte(noEnvURLs), 0o600))
	code, _, errOut = cli(t, "verify", fixed, "--report", "json="+js)
	require.Equal(t, verdict.ExitInvalid, code, errOut)
	require.NoError(t, json.Unmarshal(readFile(t, js), &v))
	assert.Equal(t, "error", v.Verdict)
	assert.Contains(t, string(readFile(t, summary)), "### ⛔ greenlight: invalid input — checkout\n")
}

// smoke does the same with its own report.
func TestSmokeInvalidInputWritesReports(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	spec := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nstps: []\n"), 0o600))
	js := filepath.Join(dir, "r.json")
	code, _, errOut := cli(t, "smoke", spec, "--target", "http://127.0.0.1:1", "--report", "json="+js)
	require.Equal(t, verdict.ExitInvalid, code, errOut)
	var r struct {
		Status   string   `json:"status"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, js), &r))
	assert.Equal(t, "error", r.Status)
	assert.Contains(t, r.Problems, spec+`:4:1: unknown field "stps" (did you mean "steps"?)`)
}

// watch does the same as verify: a pipeline's watch step that stops on invalid input still
// leaves its reports and the step summary saying why.
func TestWatchInvalidInputWritesReports(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	spec := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(noEnvURLs), 0o600))
	js := filepath.Join(dir, "w.json")
	code, _, errOut := cli(t, "watch", spec, "--for", "30m", "--report", "json="+js)
	require.Equal(t, verdict.ExitInvalid, code, errOut)
	var v struct {
		Verdict  string   `json:"verdict"`
		ExitCode int      `json:"exitCode"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, js), &v))
	assert.Equal(t, "error", v.Verdict)
	assert.Equal(t, 3, v.ExitCode)
	assert.NotEmpty(t, v.Problems)
	assert.Contains(t, string(readFile(t, summary)), "### ⛔ greenlight: invalid input — checkout\n")
}

// noEnvURLs is an analysis that loads but names no URL for its environments: invalid once
// loaded, when its name is known.
const noEnvURLs = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: checkout}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
checks: [{name: e, errorRate: {from: m, maxIncrease: 1%}}]
`
