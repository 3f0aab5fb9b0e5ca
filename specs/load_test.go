package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const minimal = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: %s}
steps:
  - name: health
    http: {url: /health}
`

func TestAllErrorsInOneRun(t *testing.T) {
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
steps:
  - name: a
    timeout: 5
    http: {url: /a, metod: GET}
    expect: ["status =="]
  - name: a
    http: {url: "/b/{{ .token }}"}
`
	_, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	assert.Equal(t, `s.yaml:6:14: duration "5" needs a unit, e.g. 5ms or 5s
s.yaml:7:21: unknown field "metod" (did you mean "method"?)
s.yaml:8:23: invalid expression "status ==": unexpected token EOF
s.yaml:9:5: duplicate step name "a" (first at line 5)
s.yaml:10:17: capture "token" is used before it is defined (captures come from earlier steps)`, err.Error())
}

func TestMultiDocumentAndFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", strings.Replace(minimal, "%s", "one", 1)+"---\n"+strings.Replace(minimal, "%s", "two", 1))
	write(t, dir, "nested/b.yml", strings.Replace(minimal, "%s", "three", 1))
	write(t, dir, "notes.txt", "not a spec")
	docs, err := Load([]string{dir}, LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	var names []string
	for _, s := range docs.Suites {
		names = append(names, s.Metadata.Name)
	}
	assert.Equal(t, []string{"one", "two", "three"}, names)
	assert.NotNil(t, docs.Suite("two"))
	assert.Nil(t, docs.Suite("four"))
}

// TestFolderAsConfigMapVolume: a Kubernetes ConfigMap mounted as a folder holds each key as a
// link into a hidden, timestamped folder (the kubelet swaps it atomically on an update). Each
// spec is loaded once, through its link, not a second time from the hidden folder.
func TestFolderAsConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	version := "..2026_03_01_12_00_00.123456789"
	write(t, dir, version+"/a.yaml", strings.Replace(minimal, "%s", "one", 1))
	write(t, dir, ".git/b.yaml", strings.Replace(minimal, "%s", "two", 1))
	require.NoError(t, os.Symlink(version, filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(dir, "a.yaml")))
	docs, err := Load([]string{dir}, LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	require.Len(t, docs.Suites, 1)
	assert.Equal(t, "one", docs.Suites[0].Metadata.Name)
	assert.Equal(t, filepath.Join(dir, "a.yaml"), docs.Suites[0].File)
}

func TestLoadProblemsWithPaths(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", strings.Replace(minimal, "%s", "same", 1))
	write(t, dir, "b.yaml", strings.Replace(minimal, "%s", "same", 1))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err := Load([]string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "missing.yaml"), empty}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, filepath.Join(dir, "b.yaml")+`:3:11: duplicate suite name "same" (first in `+filepath.Join(dir, "a.yaml")+":3:11)")
	assert.Contains(t, msg, filepath.Join(dir, "missing.yaml")+": no such file or folder")
	assert.Contains(t, msg, empty+": no .yaml or .yml files in this folder")
}

func TestDefaultsAppliedOnce(t *testing.T) {
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
defaults:
  timeout: 2s
  headers: {Accept: application/json, X-Team: core}
  retries: {on: [5xx]}
steps:
  - name: a
    http: {url: /a, headers: {accept: text/plain}}
  - name: b
    timeout: 1s
    retries: {attempts: 5}
    http: {url: /b, followRedirects: false, maxBodySize: 1KiB}
`
	docs, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	s := docs.Suites[0]
	a, b := s.Steps[0], s.Steps[1]
	assert.Equal(t, 2*time.Second, a.Timeout.D())
	assert.Equal(t, time.Second, b.Timeout.D())
	assert.Equal(t, DefaultSuiteTimeout, s.Timeout.D())
	assert.Equal(t, 3, a.Retries.Attempts)
	assert.Equal(t, []string{"5xx"}, a.Retries.On)
	assert.Equal(t, 5, b.Retries.Attempts)
	assert.Equal(t, []string{"connection"}, b.Retries.On, "a step's own retries start from the built-in defaults")
	assert.Equal(t, map[string]string{"accept": "text/plain", "X-Team": "core"}, sources(a.HTTP().Headers), "a step header replaces the default whatever its case")
	assert.True(t, *a.HTTP().FollowRedirects)
	assert.False(t, *b.HTTP().FollowRedirects)
	assert.Equal(t, ByteSize(DefaultMaxBodySize), a.HTTP().MaxBodySize)
	assert.Equal(t, ByteSize(1024), b.HTTP().MaxBodySize)
	assert.Equal(t, "GET", a.HTTP().Method)
	assert.Equal(t, Synthetic{Header: DefaultSyntheticHeader, Value: DefaultSyntheticValue}, *s.Defaults.Synthetic)
}

func sources(m map[string]Template) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.Source
	}
	return out
}

func TestEnvExpansion(t *testing.T) {
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: "${NAME}"}
vars:
  region: ${REGION:-eu-west-1}
  empty: "${EMPTY:-fallback}"
  literal: "$${NOT_EXPANDED}"
  price: "$5 ${CURRENCY}"
defaults:
  maxRedirects: ${MAX_REDIRECTS}
steps:
  - name: health
    http: {url: "${BASE}/health"}
`
	env := envOf("NAME", "shop", "EMPTY", "", "CURRENCY", "EUR", "MAX_REDIRECTS", "3", "BASE", "https://green.internal")
	docs, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: env})
	require.NoError(t, err)
	s := docs.Suites[0]
	assert.Equal(t, "shop", s.Metadata.Name)
	assert.Equal(t, map[string]string{"region": "eu-west-1", "empty": "fallback", "literal": "${NOT_EXPANDED}", "price": "$5 EUR"}, s.Vars)
	assert.Equal(t, 3, *s.Defaults.MaxRedirects, "a plain scalar is re-typed after expansion")
	assert.Equal(t, "https://green.internal/health", s.Steps[0].HTTP().URL.Source)

	t.Run("keys are never expanded", func(t *testing.T) {
		_, err := Parse("s.yaml", []byte(strings.Replace(minimal, "%s", "x", 1)+"vars: {\"${K}\": v}\n"), LoadOptions{LookupEnv: noEnv})
		require.NoError(t, err)
	})
	t.Run("unterminated", func(t *testing.T) {
		_, err := Parse("s.yaml", []byte(strings.Replace(minimal, "%s", "x", 1)+"vars: {a: \"${OOPS\"}\n"), LoadOptions{LookupEnv: noEnv})
		assert.EqualError(t, err, `s.yaml:7:11: unterminated ${ in "${OOPS"`)
	})
}

func TestVarsOverride(t *testing.T) {
	src := strings.Replace(fmt.Sprintf(minimal, "x"), "/health", `"/users/{{ .vars.user }}"`, 1) + "vars: {user: alice}\n"
	docs, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv, Vars: map[string]string{"user": "bob", "extra": "1"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"user": "bob", "extra": "1"}, docs.Suites[0].Vars)

	// A var given only with --var satisfies templates too.
	src = strings.Replace(fmt.Sprintf(minimal, "x"), "/health", `"/users/{{ .vars.user }}"`, 1)
	_, err = Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv, Vars: map[string]string{"user": "bob"}})
	require.NoError(t, err)
}

// TestRoundTrip checks that a loaded suite marshals back to YAML that loads to the same suite.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../examples/suites/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	files = append(files, "testdata/valid-everything.yaml")
	env := envOf("SMOKE_PASS", "testpass", "API_KEY", "k-123")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			docs, err := Load([]string{f}, LoadOptions{LookupEnv: env})
			require.NoError(t, err)
			first, err := yaml.Marshal(docs.Suites[0])
			require.NoError(t, err)
			again, err := Parse(f, first, LoadOptions{LookupEnv: env})
			require.NoError(t, err, "marshalled form:\n%s", first)
			second, err := yaml.Marshal(again.Suites[0])
			require.NoError(t, err)
			assert.Equal(t, string(first), string(second))
			assert.NotContains(t, string(first), "testpass", "secrets never marshal")
		})
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// TestLinkNeverLoops: an analysis that names its own file, or two analyses naming each other's
// files, as suite files must end with a positioned error instead of loading forever.
func TestLinkNeverLoops(t *testing.T) {
	analysis := func(name, smoke string) string {
		return `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ` + name + `}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
smoke: [` + smoke + `]
monitors: [{name: m, suite: ` + smoke + `, every: 1s}]
checks: [{name: e, errorRate: {from: m, maxRatio: 2}}]
`
	}
	dir := t.TempDir()
	self := write(t, dir, "self.yaml", analysis("self", "./self.yaml"))
	a := write(t, dir, "a.yaml", analysis("a", "./b.yaml"))
	b := write(t, dir, "b.yaml", analysis("b", "./a.yaml"))
	folder := write(t, dir, "sub/folder.yaml", analysis("folder", "./"))

	_, err := Load([]string{self}, LoadOptions{LookupEnv: noEnv})
	assert.EqualError(t, err, self+`:7:9: suite file "./self.yaml" is this analysis's own file, which holds no suite
`+self+`:8:29: suite file "./self.yaml" is this analysis's own file, which holds no suite`)

	_, err = Load([]string{a}, LoadOptions{LookupEnv: noEnv})
	assert.EqualError(t, err, a+`:7:9: suite file "./b.yaml" holds 0 suites (only 1 analysis: an analysis runs suites, not analyses); name one instead
`+a+`:8:29: suite file "./b.yaml" holds 0 suites (only 1 analysis: an analysis runs suites, not analyses); name one instead`)

	_, err = Load([]string{a, b}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	assert.Contains(t, err.Error(), b+`:7:9: suite file "./a.yaml" holds 0 suites`)

	_, err = Load([]string{folder}, LoadOptions{LookupEnv: noEnv})
	assert.EqualError(t, err, folder+`:7:9: suite file "./" holds 0 suites (only 1 analysis: an analysis runs suites, not analyses); name one instead
`+folder+`:8:29: suite file "./" holds 0 suites (only 1 analysis: an analysis runs suites, not analyses); name one instead`)
}

// TestOneBadFileHidesNoOther: a folder of three files with independent problems — a syntax
// error, a decoding error, a reference only linking finds — reports all three.
func TestOneBadFileHidesNoOther(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "1-broken.yaml", "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: broken\n")
	write(t, dir, "2-suite.yaml", strings.Replace(minimal, "%s", "health", 1)+"timeout: soon\n")
	write(t, dir, "3-analysis.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
monitors: [{name: m, suite: health, every: 1s}]
checks: [{name: e, errorRate: {from: m, step: nope, maxRatio: 2}}]
`)
	_, err := Load([]string{dir}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	assert.Equal(t, filepath.Join(dir, "1-broken.yaml")+`:3:11: invalid YAML: did not find expected ',' or '}'
`+filepath.Join(dir, "2-suite.yaml")+`:7:10: invalid duration "soon": use Go duration syntax such as 300ms, 5s, 1m30s
`+filepath.Join(dir, "3-analysis.yaml")+`:8:10: check "e": monitor "m" has no step "nope" (steps: health)`, err.Error())

	t.Run("a name the unreadable file may define", func(t *testing.T) {
		write(t, dir, "3-analysis.yaml", strings.Replace(strings.Replace(minimalAnalysis, "SUITE", "broken", 1), "STEP", "", 1))
		_, err := Load([]string{dir}, LoadOptions{LookupEnv: noEnv})
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(dir, "1-broken.yaml")+`:3:11: invalid YAML`)
		assert.NotContains(t, err.Error(), `no suite named "broken"`, "one cause, one error: the file that may define it is broken")
	})
}

const minimalAnalysis = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
monitors: [{name: m, suite: SUITE, every: 1s}]
checks: [{name: e, errorRate: {from: m, STEPmaxRatio: 2}}]
`

func TestNoDocuments(t *testing.T) {
	for name, src := range map[string]string{
		"empty":              "",
		"only comments":      "# nothing here\n# nor here\n",
		"only separators":    "---\n---\n",
		"only a null":        "~\n",
		"comments and blank": "\n\n  # indented comment\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("e.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
			assert.EqualError(t, err, "e.yaml: no documents (empty or only comments)")
		})
	}
	t.Run("an empty document among others is fine", func(t *testing.T) {
		docs, err := Parse("e.yaml", []byte("---\n"+strings.Replace(minimal, "%s", "x", 1)+"---\n"), LoadOptions{LookupEnv: noEnv})
		require.NoError(t, err)
		assert.Len(t, docs.Suites, 1)
	})
}

// TestMissingSecrets: a secret that is only missing here (its variable unset, its file absent)
// is a warning with AllowMissingSecrets and an error without; a secret that is wrong stays an
// error either way.
func TestMissingSecrets(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "empty-secret", "\n")
	suite := write(t, dir, "s.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets:
  fromEnv: {env: UNSET_PASSWORD}
  fromFile: {file: missing-secret}
steps:
  - name: a
    http: {url: "/a", headers: {X-Key: "{{ secret \"UNDECLARED_KEY\" }}"}}
`)
	analysis := write(t, dir, "a.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://prom:9090", bearerToken: {env: UNSET_TOKEN}}
checks:
  - name: errors
    errorRate:
      prometheus: {errors: "sum(x)", total: "sum(y)"}
      maxRatio: 1.5
`)
	missing := []string{
		analysis + `:8:15: sources.prometheus.bearerToken: secret environment variable "UNSET_TOKEN" is not set`,
		suite + `:5:12: secret "fromEnv": secret environment variable "UNSET_PASSWORD" is not set`,
		suite + `:6:13: secret "fromFile": secret file "missing-secret" does not exist`,
		suite + `:9:40: secret "UNDECLARED_KEY" is not declared in secrets and no environment variable UNDECLARED_KEY is set`,
	}

	docs, err := Load([]string{suite, analysis}, LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
	require.NoError(t, err)
	var got []string
	for _, w := range docs.Warnings {
		got = append(got, w.Error())
	}
	assert.Equal(t, missing, got)

	docs, err = Load([]string{suite, analysis}, LoadOptions{LookupEnv: noEnv})
	assert.EqualError(t, err, strings.Join(missing, "\n"))
	assert.Empty(t, docs.Warnings)

	t.Run("a wrong secret is an error even when missing ones are allowed", func(t *testing.T) {
		bad := write(t, dir, "bad.yaml", strings.Replace(minimal, "%s", "bad", 1)+"secrets:\n  e: {file: empty-secret}\n  d: {file: .}\n")
		_, err := Load([]string{bad}, LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
		assert.EqualError(t, err, bad+`:8:6: secret "e": secret file "empty-secret" is empty
`+bad+`:9:6: secret "d": secret file ".": is a folder, not a file`)
	})
}

// TestErrorsNeverQuoteSecrets: values of secrets, environment values put into headers and the
// password of a URL are "<secret>" in every load error.
func TestErrorsNeverQuoteSecrets(t *testing.T) {
	const token, pass, auth = "s3cr3t-t0ken", "hunter2-pass", "Bearer aut0rization"
	env := envOf("TOKEN", token, "PROM_PASS", pass, "AUTH", auth, "BAD_PORT", "http://h:"+token+"/x")
	suite := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets: {token: {env: TOKEN}}
steps:
  - name: a
    http: {url: "${BAD_PORT}", headers: {Authorization: "${AUTH} {{"}}
`
	analysis := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {url: "https://admin:${PROM_PASS}@blue host"}, green: {url: "http://g"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://${TOKEN}@prom host"}
checks:
  - name: errors
    errorRate:
      prometheus: {errors: "sum(x)", total: "sum(y)"}
      maxRatio: 1.5
`
	_, err := Parse("s.yaml", []byte(suite), LoadOptions{LookupEnv: env})
	require.Error(t, err)
	assert.Equal(t, `s.yaml:7:11: step "a": invalid url "http://h:<secret>/x": invalid port ":<secret>" after host
s.yaml:7:57: invalid template "<secret> {{": unclosed action`, err.Error())

	_, err = Parse("a.yaml", []byte(analysis), LoadOptions{LookupEnv: env})
	require.Error(t, err)
	assert.Equal(t, `a.yaml:4:22: environment blue: url "https://admin:<secret>@blue host" is not an http(s) URL
a.yaml:8:15: sources.prometheus.url "http://<secret>@prom host" is not an http(s) URL`, err.Error())
}

// TestEveryErrorHasAPosition: whatever is wrong, an error inside a document says where.
func TestEveryErrorHasAPosition(t *testing.T) {
	srcs := []string{
		"apiVersion: greenlight/v1\nkind: Suite\nmetadata:\nsteps:\n  - name:\n    http:\n      url:\n",
		"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\ndefaults:\n  maxRedirects: -1\n  synthetic: {header: \"bad header\", value: \"a\\nb\"}\n  retries:\n  tls:\nsteps: [{name: a, http: {url: /}}]\n",
		"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsecrets:\n  x:\nsteps: [{name: a, http: {url: /}}]\n",
		"apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: a}\nenvironments:\n  blue:\n  green:\nbaseline: blue\ncandidate: green\nsources:\n  prometheus:\n  jaeger:\nchecks:\n  - name: c\n    errorRate:\n",
		"kind:\n",
	}
	for _, src := range srcs {
		_, err := Parse("p.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
		var es Errors
		require.ErrorAs(t, err, &es, src)
		for _, e := range es {
			assert.True(t, e.Pos.Line > 0 && e.Pos.Column > 0, "no position: %s", e)
		}
	}
}
