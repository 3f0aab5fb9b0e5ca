package specs

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// templateSuite is a suite whose second step's url is tmpl; the first step captures items.
func templateSuite(tmpl string) string {
	return `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
vars: {q: "a b", f: "%d"}
secrets: {token: {env: TOKEN}}
steps:
  - name: list
    http: {url: /items}
    capture: {items: json.items}
  - name: use
    http: {url: '` + tmpl + `'}
`
}

func TestTemplatesThatOnlyFailAtRunTimeAreRefused(t *testing.T) {
	cases := []struct {
		tmpl, want string
	}{
		{`{{ block "x" . }}y{{ end }}`, `{{ define }} and {{ block }} are not allowed: a template is one string`},
		{`{{ call .vars.q }}`, `function "call" is not allowed`},
		{`{{ "TOKEN" | secret }}`, "secret needs a literal name, e.g. secret `NAME`"},
		{`{{ env (print "HO" "ME") }}`, "env needs a literal name, e.g. env `NAME`"},
		{`{{ secret }}`, "secret takes 1 arguments, got 0"},
		{`{{ printf .vars.f 1 }}`, "printf needs a literal format"},
		{`{{ 1 | printf }}`, "printf needs a literal format"},
		{`{{ printf "%*d" 100000000 1 }}`, "printf widths and precisions must be literal numbers up to 999"},
		{`{{ printf "%.1000f" 1.0 }}`, "printf widths and precisions must be literal numbers up to 999"},
		{`{{ lt 1 }}`, "lt takes 2 arguments, got 1"},
		{`{{ eq .vars.q }}`, "eq takes at least 2 arguments, got 1"},
		{`{{ now | uuid }}`, "uuid takes 0 arguments, got 1"},
		{`{{ range (1000000) }}x{{ end }}`, "range over a number is not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.tmpl, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(templateSuite(tc.tmpl)), LoadOptions{LookupEnv: envOf("TOKEN", "t0ken")})
			require.Error(t, err)
			assert.Equal(t, `s.yaml:11:17: invalid template "`+strings.ReplaceAll(tc.tmpl, `"`, `\"`)+`": `+tc.want, err.Error())
		})
	}
}

func TestTemplatesStillAllowed(t *testing.T) {
	cases := []struct {
		tmpl, want string
	}{
		{`/q?{{ .vars.q | urlquery }}`, "/q?a+b"},
		{`/{{ printf "%05d" 42 }}`, "/00042"},
		{`/{{ printf "%-3s|" "a" }}`, "/a  |"},
		{`/{{ index .items 0 }}`, "/x"},
		{`/{{ range .items }}{{ . }},{{ end }}`, "/x,y,"},
		{`/{{ if eq .vars.q "a b" }}yes{{ else }}no{{ end }}`, "/yes"},
		{`/{{ len .captures.items }}`, "/2"},
		{`/{{ secret "token" | len }}`, "/5"},
		{`/{{ toJSON .items }}`, `/["x","y"]`},
	}
	for _, tc := range cases {
		t.Run(tc.tmpl, func(t *testing.T) {
			docs, err := Parse("s.yaml", []byte(templateSuite(tc.tmpl)), LoadOptions{LookupEnv: envOf("TOKEN", "t0ken")})
			require.NoError(t, err)
			got, err := docs.Suites[0].Steps[1].HTTP().URL.Render(&TemplateData{
				Vars:     docs.Suites[0].Vars,
				Captures: map[string]any{"items": []any{"x", "y"}},
			})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTemplateOutputIsBounded(t *testing.T) {
	// Three nested loops over a captured list of 300 items: 27 million writes, refused once the
	// output passes MaxTemplateOutput.
	tmpl := `{{ range .items }}{{ range $.items }}{{ range $.items }}{{ . }}{{ end }}{{ end }}{{ end }}`
	docs, err := Parse("s.yaml", []byte(templateSuite(tmpl)), LoadOptions{LookupEnv: envOf("TOKEN", "t0ken")})
	require.NoError(t, err)
	items := make([]any, 300)
	for i := range items {
		items[i] = "abcdefgh"
	}
	_, err = docs.Suites[0].Steps[1].HTTP().URL.Render(&TemplateData{Captures: map[string]any{"items": items}})
	require.Error(t, err)
	assert.ErrorIs(t, err, errTemplateTooLarge)
	assert.Contains(t, err.Error(), "renders more than 10 MiB")
}

func TestHeaderLineBreaks(t *testing.T) {
	suite := func(headers string) string {
		return `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
vars: {plain: ok}
secrets: {token: {env: TOKEN}}
defaults:
  headers: {X-Default: "{{ .vars.plain }}"}
steps:
  - name: login
    http: {url: /login}
    capture: {token: json.token}
  - name: use
    http:
      url: /use
      headers: ` + headers + `
`
	}
	t.Run("from a secret, at load", func(t *testing.T) {
		_, err := Parse("s.yaml", []byte(suite(`{Authorization: "Bearer {{ secret \"token\" }}"}`)), LoadOptions{LookupEnv: envOf("TOKEN", "abc\r\nX-Evil: 1")})
		assert.EqualError(t, err, `s.yaml:15:32: step "use": header "Authorization": the value renders with a line break (CR or LF) from vars, an environment variable or a secret`)
	})
	t.Run("from a capture, when rendered", func(t *testing.T) {
		docs, err := Parse("s.yaml", []byte(suite(`{Authorization: "Bearer {{ .token }}"}`)), LoadOptions{LookupEnv: envOf("TOKEN", "abcd")})
		require.NoError(t, err)
		h := docs.Suites[0].Steps[1].HTTP().Headers
		_, err = h["Authorization"].Render(&TemplateData{Captures: map[string]any{"token": "abc\nX-Evil: 1"}})
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrHeaderLineBreak), err)
		got, err := h["Authorization"].Render(&TemplateData{Captures: map[string]any{"token": "abc"}})
		require.NoError(t, err)
		assert.Equal(t, "Bearer abc", got)
		got, err = h["X-Default"].Render(&TemplateData{Vars: map[string]string{"plain": "ok"}})
		require.NoError(t, err, "default headers are merged into the step's")
		assert.Equal(t, "ok", got)
	})
	t.Run("in an environment's and a source's headers", func(t *testing.T) {
		src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments:
  blue: {url: "http://b", headers: {Host: "b\nX-Evil: 1"}}
  green: {url: "http://g"}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://prom:9090", headers: {X-Scope-OrgID: "${TENANT}"}}
checks:
  - name: errors
    errorRate:
      prometheus: {errors: "sum(x)", total: "sum(y)"}
      maxRatio: 1.5
`
		_, err := Parse("a.yaml", []byte(src), LoadOptions{LookupEnv: envOf("TENANT", "t1\r\nX-Evil: 1")})
		assert.EqualError(t, err, `a.yaml:5:9: environment blue: header "Host": the value contains a line break (CR or LF)
a.yaml:10:15: sources.prometheus: header "X-Scope-OrgID": the value contains a line break (CR or LF)`)
	})
}
