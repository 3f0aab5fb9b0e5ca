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
