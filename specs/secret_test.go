package specs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for name, out := range map[string]string{
		"String": s.String(),
		"%v":     fmt.Sprintf("%v", s),
		"%s":     fmt.Sprintf("%s", s),
		"%+v":    fmt.Sprintf("%+v", struct{ P Secret }{s}),
		"%#v":    fmt.Sprintf("%#v", s),
		"json":   jsonRoundTrip(t, map[string]Secret{"p": s}),
		"yaml":   mustYAML(t, map[string]Secret{"p": s}),
		"error":  fmt.Errorf("login with %v failed", s).Error(),
	} {
		assert.NotContains(t, out, "hunter2", name)
		assert.Contains(t, out, "<secret>", name)
	}
	assert.Equal(t, "hunter2", s.Reveal())
}

func TestRedactor(t *testing.T) {
	rd := NewRedactor("p@ss word", "tok", "")
	got := rd.Redact(`url=/x?key=p%40ss+word body={"pw":"p@ss word"} header=tok token`)
	assert.Equal(t, `url=/x?key=<secret> body={"pw":"<secret>"} header=<secret> <secret>en`, got,
		"plain, URL-encoded and JSON-escaped forms are all redacted")
	rd.Add(`quo"te`)
	assert.Equal(t, `{"a":"<secret>"}`, rd.Redact(`{"a":"quo\"te"}`))
	var nilRd *Redactor
	assert.Equal(t, "x", nilRd.Redact("x"))
}

func TestSuiteSecrets(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "pw.txt", "from-file\n")
	p := write(t, dir, "s.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets:
  fromEnv: {env: TOKEN}
  fromFile: {file: pw.txt}
steps:
  - name: a
    http:
      url: '/x?k={{ secret "fromEnv" }}'
      headers: {X-Pass: '{{ secret "fromFile" }}', X-Raw: '{{ secret "RAW_ENV" }}'}
`)
	docs, err := Load([]string{p}, LoadOptions{LookupEnv: envOf("TOKEN", "env-token", "RAW_ENV", "raw-value")})
	require.NoError(t, err)
	s := docs.Suites[0]
	url, err := s.Steps[0].HTTP().URL.Render(&TemplateData{})
	require.NoError(t, err)
	assert.Equal(t, "/x?k=env-token", url)
	pass, err := s.Steps[0].HTTP().Headers["X-Pass"].Render(&TemplateData{})
	require.NoError(t, err)
	assert.Equal(t, "from-file", pass, "a file secret loses its trailing newline")

	rd := s.Redactor()
	assert.Equal(t, "<secret> <secret> <secret>", rd.Redact("env-token from-file raw-value"),
		"declared secrets and environment variables read through secret are all redacted")
	out, err := yaml.Marshal(s)
	require.NoError(t, err)
	for _, v := range []string{"env-token", "from-file", "raw-value"} {
		assert.NotContains(t, string(out), v)
	}
	assert.True(t, strings.Contains(string(out), "env: TOKEN"), "the reference, not the value, is marshalled")
}

// jsonRoundTrip marshals and decodes again, undoing encoding/json's escaping of < and >.
func jsonRoundTrip(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var back map[string]string
	require.NoError(t, json.Unmarshal(b, &back))
	return back["p"]
}

func mustYAML(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
