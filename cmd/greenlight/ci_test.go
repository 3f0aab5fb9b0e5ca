package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// These tests hold the CI examples to what they document: the GitHub Action (action.yml at the
// repository's root, docs/integrations/ci.md) and the GitLab CI snippet (deploy/gitlab).

// actionFile is action.yml as GitHub reads a composite action.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Shell string            `yaml:"shell"`
			Env   map[string]string `yaml:"env"`
			Run   string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func repoFile(t *testing.T, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func loadAction(t *testing.T) actionFile {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, "action.yml"))
	require.NoError(t, err)
	var a actionFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&a))
	return a
}

var expression = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// TestActionDefinition: a composite action whose inputs and outputs are the ones
// docs/integrations/ci.md documents, whose scripts take inputs only from their environment (an
// input spliced into a script could run as code), and whose expressions name only its own
// inputs and earlier steps' outputs.
func TestActionDefinition(t *testing.T) {
	a := loadAction(t)
	assert.Equal(t, "composite", a.Runs.Using)
	require.Contains(t, a.Inputs, "analysis")
	assert.True(t, a.Inputs["analysis"].Required)

	doc, err := os.ReadFile(repoFile(t, "docs", "integrations", "ci.md"))
	require.NoError(t, err)
	documented := func(section string) []string {
		_, rest, ok := strings.Cut(string(doc), "\n"+section+"\n")
		require.True(t, ok, "ci.md has a section %q", section)
		var names []string
		for line := range strings.Lines(rest) {
			if strings.HasPrefix(line, "#") {
				break
			}
			if m := regexp.MustCompile("^\\| `([a-z-]+)` \\|").FindStringSubmatch(line); m != nil {
				names = append(names, m[1])
			}
		}
		sort.Strings(names)
		return names
	}
	assert.Equal(t, sortedKeys(a.Inputs), documented("### Inputs"))
	assert.Equal(t, sortedKeys(a.Outputs), documented("### Outputs"))
	for name, in := range a.Inputs {
		assert.NotEmpty(t, in.Description, "input %s", name)
	}

	steps := map[string]bool{}
	for _, s := range a.Runs.Steps {
		assert.Equal(t, "bash", s.Shell, "step %s", s.ID)
		assert.NotContains(t, s.Run, "${{", "step %s: inputs go through env", s.ID)
		for k, v := range s.Env {
			for _, m := range expression.FindAllStringSubmatch(v, -1) {
				assert.True(t, knownExpression(a, steps, m[1]), "step %s, env %s: %s", s.ID, k, m[0])
			}
		}
		steps[s.ID] = true
	}
	for name, out := range a.Outputs {
		for _, m := range expression.FindAllStringSubmatch(out.Value, -1) {
			assert.True(t, knownExpression(a, steps, m[1]), "output %s: %s", name, m[0])
		}
	}
}

func knownExpression(a actionFile, steps map[string]bool, expr string) bool {
	if name, ok := strings.CutPrefix(expr, "inputs."); ok {
		_, known := a.Inputs[name]
		return known
	}
	if ref, ok := strings.CutPrefix(expr, "steps."); ok {
		id, _, _ := strings.Cut(ref, ".outputs.")
		return steps[id]
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// actionRun is what running the action produced.
type actionRun struct {
	code    int
	stdout  string // workflow commands (annotations) and greenlight's output
	stderr  string
	outputs map[string]string
	summary string
}

// runAction runs action.yml's steps as GitHub's runner runs a composite action — each script
// with `bash --noprofile --norc -eo pipefail`, its env's expressions resolved, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY, RUNNER_TEMP and GITHUB_ACTION_PATH set — stopping at the first step that
// fails.
func runAction(t *testing.T, inputs map[string]string) actionRun {
	t.Helper()
	a := loadAction(t)
	for name := range inputs {
		require.Contains(t, a.Inputs, name, "an input the action has")
	}
	tmp := t.TempDir()
	root, err := filepath.Abs(repoFile(t))
	require.NoError(t, err)
	summary := filepath.Join(tmp, "summary.md")
	require.NoError(t, os.WriteFile(summary, nil, 0o600))
	runnerTemp := filepath.Join(tmp, "runner")
	require.NoError(t, os.Mkdir(runnerTemp, 0o700))
	stepOutputs := map[string]map[string]string{}
	resolve := func(s string) string {
		return expression.ReplaceAllStringFunc(s, func(m string) string {
			expr := expression.FindStringSubmatch(m)[1]
			if name, ok := strings.CutPrefix(expr, "inputs."); ok {
				if v, ok := inputs[name]; ok {
					return v
				}
				return a.Inputs[name].Default
			}
			ref := strings.TrimPrefix(expr, "steps.")
			id, name, _ := strings.Cut(ref, ".outputs.")
			return stepOutputs[id][name]
		})
	}
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "GREENLIGHT_") && !strings.HasPrefix(kv, "RUNNER_") {
			base = append(base, kv)
		}
	}
	var r actionRun
	for i, s := range a.Runs.Steps {
		script := filepath.Join(tmp, s.ID+".sh")
		require.NoError(t, os.WriteFile(script, []byte(s.Run), 0o600))
		outFile := filepath.Join(tmp, s.ID+".out")
		require.NoError(t, os.WriteFile(outFile, nil, 0o600))
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Env = append(append([]string{}, base...), "GITHUB_OUTPUT="+outFile, "GITHUB_STEP_SUMMARY="+summary,
			"RUNNER_TEMP="+runnerTemp, "GITHUB_ACTION_PATH="+root, "GITHUB_ACTIONS=true")
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+resolve(v))
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r.stdout += stdout.String()
		r.stderr += stderr.String()
		data, rerr := os.ReadFile(outFile)
		require.NoError(t, rerr)
		stepOutputs[s.ID] = map[string]string{}
		for line := range strings.Lines(string(data)) {
			k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
			require.True(t, ok, "step %s wrote %q to GITHUB_OUTPUT", s.ID, line)
			stepOutputs[s.ID][k] = v
		}
		if err != nil {
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "step %d (%s)", i, s.ID)
			r.code = ee.ExitCode()
			break
		}
	}
	r.outputs = map[string]string{}
	for name, out := range a.Outputs {
		r.outputs[name] = resolve(out.Value)
	}
	data, err := os.ReadFile(summary)
	require.NoError(t, err)
	r.summary = string(data)
	return r
}

// greenlightBinary is a greenlight for the action to run: this test binary, which runs main
// when GREENLIGHT_RUN_MAIN is set (TestMain).
func greenlightBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "greenlight")
	script := "#!/bin/sh\nGREENLIGHT_RUN_MAIN=1 exec '" + exe + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o700))
	return bin
}

const ciSuite = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: health}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
`

// ciAnalysis decides at once on loopback: a green whose API fails every request is rolled
// back by the errors check as soon as it has the evidence, whatever the machine's load.
const ciAnalysis = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ci}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [health]
monitors:
  - {name: api, every: 10ms, rateLimit: 1000, step: {name: api, http: {url: /api}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: api, maxIncrease: 5%}}
policy: {minDuration: 1s, maxDuration: 5m}
`

func ciApp(t *testing.T, healthStatus, apiStatus int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(healthStatus)
		case "/api":
			w.WriteHeader(apiStatus)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestActionRun runs the action: greenlight's exit code passes through, the verdict is in the
// job summary and the outputs, the decision and the failed check are annotations, and a
// password in an environment URL appears nowhere.
func TestActionRun(t *testing.T) {
	dir := t.TempDir()
	analysisFile := filepath.Join(dir, "analysis.yaml")
	suites := filepath.Join(dir, "suites")
	require.NoError(t, os.WriteFile(analysisFile, []byte(ciAnalysis), 0o600))
	require.NoError(t, os.Mkdir(suites, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(suites, "health.yaml"), []byte(ciSuite), 0o600))
	bin := greenlightBinary(t)
	blue := ciApp(t, http.StatusOK, http.StatusOK)
	green := strings.Replace(ciApp(t, http.StatusOK, http.StatusInternalServerError), "http://", "http://ci:pa55-in-the-url@", 1)
	down := ciApp(t, http.StatusInternalServerError, http.StatusInternalServerError) // fails the smoke gate at once
	junit := filepath.Join(dir, "verdict.xml")

	t.Run("rollback", func(t *testing.T) {
		r := runAction(t, map[string]string{
			"binary": bin, "analysis": analysisFile, "suites": "\n  " + suites + "\n",
			"environments": "blue=" + blue + "\ngreen=" + green + "\n",
			"reports":      "junit=" + junit,
		})
		assert.Equal(t, 1, r.code, "rollback: exit 1\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Equal(t, map[string]string{"verdict": "rollback", "exit-code": "1"}, r.outputs)
		assert.Contains(t, r.stdout, "::error title=greenlight%3A rollback ci::errors: ")
		assert.Contains(t, r.stdout, "::error title=greenlight%3A check errors fail::error rate green 100.00%25 vs blue 0.00%25")
		assert.Contains(t, r.summary, "greenlight: rollback")
		report, err := os.ReadFile(junit)
		require.NoError(t, err)
		for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "summary": r.summary, "junit": string(report)} {
			assert.NotContains(t, text, "pa55-in-the-url", "the password in %s", what)
		}
	})
	t.Run("a failed smoke step", func(t *testing.T) {
		r := runAction(t, map[string]string{"binary": bin, "analysis": analysisFile, "suites": suites,
			"environments": "blue=" + blue + "\ngreen=" + down})
		assert.Equal(t, 1, r.code, "stderr:\n%s", r.stderr)
		assert.Contains(t, r.stdout, "::error file="+filepath.Join(suites, "health.yaml")+",title=greenlight%3A health › health on green::failed (500); status (500) == 200\n")
	})
	t.Run("no summary, no annotations", func(t *testing.T) {
		r := runAction(t, map[string]string{
			"binary": bin, "analysis": analysisFile, "suites": suites,
			"environments": "blue=" + blue + "\ngreen=" + down, "summary": "false", "annotations": "false",
		})
		assert.Equal(t, 1, r.code, "stderr:\n%s", r.stderr)
		assert.Empty(t, r.summary)
		assert.NotContains(t, r.stdout, "::")
	})
	t.Run("invalid input", func(t *testing.T) {
		r := runAction(t, map[string]string{"binary": bin, "analysis": filepath.Join(dir, "missing.yaml")})
		assert.Equal(t, 3, r.code, "stderr:\n%s", r.stderr)
		assert.Equal(t, map[string]string{"verdict": "invalid", "exit-code": "3"}, r.outputs)
		assert.Contains(t, r.stdout, "::error title=greenlight::greenlight verify exited 3 (invalid)")
	})
	t.Run("watch after the switch", func(t *testing.T) {
		// green, serving users now, fails its API: exit 1, switch back.
		r := runAction(t, map[string]string{"binary": bin, "command": "watch", "watch": "2s", "analysis": analysisFile,
			"suites": suites, "environments": "blue=" + blue + "\ngreen=" + green})
		assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Equal(t, map[string]string{"verdict": "rollback", "exit-code": "1"}, r.outputs)
		assert.Contains(t, r.stdout, "[watch] promoted: watching green for 2s")
		assert.NotContains(t, r.stdout, "[smoke]")
		assert.Contains(t, r.summary, "greenlight: rollback")
	})
	t.Run("an unknown command", func(t *testing.T) {
		r := runAction(t, map[string]string{"binary": bin, "command": "deploy", "analysis": analysisFile})
		assert.Equal(t, 3, r.code)
		assert.Equal(t, map[string]string{"verdict": "invalid", "exit-code": "3"}, r.outputs)
		assert.Contains(t, r.stdout, "::error title=greenlight::command: deploy is neither verify nor watch")
	})
	t.Run("a binary that is not one", func(t *testing.T) {
		r := runAction(t, map[string]string{"binary": filepath.Join(dir, "nothing"), "analysis": analysisFile})
		assert.Equal(t, 3, r.code)
		assert.Contains(t, r.stdout, "::error title=greenlight::binary: ")
		assert.Equal(t, map[string]string{"verdict": "", "exit-code": ""}, r.outputs)
	})
}

// TestActionInstallsFromItsSource: without binary and version, the action builds greenlight
// from its own source with go install, and runs it.
func TestActionInstallsFromItsSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds greenlight; in the full run")
	}
	r := runAction(t, map[string]string{"analysis": filepath.Join(t.TempDir(), "missing.yaml")})
	assert.Equal(t, 3, r.code, "the installed greenlight ran and refused the input\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "missing.yaml")
	assert.Equal(t, "invalid", r.outputs["verdict"])
}

// TestGitLabSnippet: deploy/gitlab/.gitlab-ci.yml runs a greenlight verify and, after the
// switch, a greenlight watch that this greenlight accepts, and uploads their JUnit reports as
// the jobs' test reports — also when the verdict fails the job, which is when it matters. The
// watch job's timeout is above its watch, and a regression (exit 1) switches back.
func TestGitLabSnippet(t *testing.T) {
	data, err := os.ReadFile(repoFile(t, "deploy", "gitlab", ".gitlab-ci.yml"))
	require.NoError(t, err)
	var pipeline map[string]yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &pipeline))
	type job struct {
		Needs     []string `yaml:"needs"`
		Timeout   string   `yaml:"timeout"`
		Script    []string `yaml:"script"`
		Artifacts struct {
			When    string            `yaml:"when"`
			Reports map[string]string `yaml:"reports"`
			Paths   []string          `yaml:"paths"`
		} `yaml:"artifacts"`
	}
	check := func(t *testing.T, name string) (job, *cobra.Command) {
		t.Helper()
		node, ok := pipeline[name]
		require.True(t, ok, "a %s job", name)
		var j job
		require.NoError(t, node.Decode(&j))
		var line string
		for _, l := range j.Script {
			if strings.HasPrefix(l, "greenlight "+name+" ") {
				line, _, _ = strings.Cut(l, " ||")
			}
		}
		require.NotEmpty(t, line, "the %s job runs greenlight %s", name, name)
		args := shellWords(t, line)[1:]
		root := newRootCmd(io.Discard, io.Discard)
		cmd, rest, err := root.Find(args)
		require.NoError(t, err)
		require.Equal(t, name, cmd.Name())
		require.NoError(t, cmd.ParseFlags(rest), "flags this greenlight has")
		flags, err := cmd.Flags().GetStringArray("report")
		require.NoError(t, err)
		reports, err := parseReports(flags)
		require.NoError(t, err)
		require.Contains(t, reports, "junit")
		assert.Equal(t, reports["junit"], j.Artifacts.Reports["junit"], "the JUnit report is the job's test report")
		assert.Equal(t, "always", j.Artifacts.When, "a failed job uploads its reports too")
		for format, file := range reports {
			if format != "junit" {
				assert.Contains(t, j.Artifacts.Paths, file, "the %s report is kept", format)
			}
		}
		return j, cmd
	}
	t.Run("verify", func(t *testing.T) { check(t, "verify") })
	t.Run("version", func(t *testing.T) {
		// The release it pins is one that exists: the one the Helm chart and the manifests run.
		var vars struct {
			Version string `yaml:"GREENLIGHT_VERSION"`
		}
		node := pipeline["variables"]
		require.NoError(t, node.Decode(&vars))
		chartData, err := os.ReadFile(repoFile(t, "deploy", "helm", "greenlight", "Chart.yaml"))
		require.NoError(t, err)
		var chart struct {
			AppVersion string `yaml:"appVersion"`
		}
		require.NoError(t, yaml.Unmarshal(chartData, &chart))
		require.NotEmpty(t, chart.AppVersion)
		assert.Equal(t, chart.AppVersion, vars.Version, "GREENLIGHT_VERSION")
	})
	t.Run("watch", func(t *testing.T) {
		j, cmd := check(t, "watch")
		watchFor, err := cmd.Flags().GetDuration("for")
		require.NoError(t, err)
		require.Positive(t, watchFor)
		timeout, err := time.ParseDuration(strings.ReplaceAll(j.Timeout, " ", ""))
		require.NoError(t, err, "the watch job has a timeout")
		assert.Greater(t, timeout, watchFor, "the job's timeout is above the watch")
		require.Len(t, j.Needs, 1)
		switchJob := pipeline[j.Needs[0]]
		var sw job
		require.NoError(t, switchJob.Decode(&sw))
		assert.Contains(t, strings.Join(sw.Script, "\n"), "switch-traffic.sh green", "the watch follows the switch")
		script := strings.Join(j.Script, "\n")
		assert.Contains(t, script, `if [ "${code:-0}" = 1 ]; then ./scripts/switch-traffic.sh blue; fi`, "exit 1 switches back")
		assert.Contains(t, script, `exit "${code:-0}"`, "the job fails on any verdict but 0")
	})
}

// shellWords splits a command line as a POSIX shell would for the quoting the snippet uses:
// blanks separate words, double quotes keep them together (variables stay unexpanded).
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	require.False(t, quoted, "unbalanced quotes in %q", line)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
