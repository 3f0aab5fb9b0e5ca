package specs

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

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

// A secret set to the empty string is said to be empty, not unset (a missing secret: a warning
// for validate); one too short to redact without mangling the output is refused everywhere.
func TestSecretEmptyOrTooShort(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "short.txt", "ab\n")
	p := write(t, dir, "s.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets:
  empty: {env: EMPTY}
  short: {env: SHORT}
  shortFile: {file: short.txt}
steps:
  - name: a
    http: {url: '/x?k={{ secret "empty" }}{{ secret "short" }}{{ secret "shortFile" }}{{ secret "RAW" }}'}
`)
	_, err := Load([]string{p}, LoadOptions{LookupEnv: envOf("EMPTY", "", "SHORT", "1", "RAW", "")})
	require.Error(t, err)
	assert.Equal(t, p+`:5:10: secret "empty": secret environment variable "EMPTY" is set but empty
`+p+`:6:10: secret "short": secret environment variable "SHORT" holds 1 bytes: a secret needs at least 4, or redacting it would blank those characters everywhere in the output
`+p+`:7:14: secret "shortFile": secret file "short.txt" holds 2 bytes: a secret needs at least 4, or redacting it would blank those characters everywhere in the output
`+p+`:10:17: secret "RAW" is not declared in secrets and environment variable RAW is set but empty`, err.Error())

	_, err = Load([]string{p}, LoadOptions{LookupEnv: envOf("EMPTY", "", "SHORT", "1", "RAW", ""), AllowMissingSecrets: true})
	require.Error(t, err, "too short is wrong wherever it is loaded")
	assert.NotContains(t, err.Error(), "set but empty", "empty is only missing: a warning for validate")
}

// TestAnalysisRedactorFindsSecrets: passwords in environment and source URLs, ${ENV} values of
// headers, and credential headers written literally are secrets without being declared.
func TestAnalysisRedactorFindsSecrets(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "suite.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
defaults:
  headers: {X-Api-Key: literal-api-key, X-Team: "${TEAM}"}
steps:
  - name: a
    http:
      url: https://robot:step-url-pw@other.internal/x
      headers: {Cookie: "session=cookie-value-123"}
`)
	p := write(t, dir, "a.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments:
  blue:
    url: https://deploy:blue-url-pw@blue.internal
    headers: {Authorization: "Bearer ${TOKEN}", X-Tenant: "${TENANT}", X-Region: "${REGION}"}
  green: {url: "${GREEN_URL}"}
baseline: blue
candidate: green
smoke: [s]
sources:
  prometheus: {url: "http://prom.internal", username: reader, password: {env: PROM_PW}}
checks: [{name: c, errorRate: {prometheus: {errors: "1", total: "2"}, maxIncrease: 1%}}]
`)
	env := envOf("TOKEN", "env-token-value", "TENANT", "tenant-value", "REGION", "eu", "TEAM", "team-value",
		"GREEN_URL", "https://deploy:green-url-pw@green.internal", "PROM_PW", "prom-password")
	docs, err := Load([]string{p, filepath.Join(dir, "suite.yaml")}, LoadOptions{LookupEnv: env})
	require.NoError(t, err)
	rd := docs.Analyses[0].Redactor()
	for _, s := range []string{
		"blue-url-pw", "green-url-pw", "env-token-value", "Bearer env-token-value", "tenant-value", "team-value",
		"literal-api-key", "step-url-pw", "cookie-value-123", "prom-password",
		base64.StdEncoding.EncodeToString([]byte("deploy:blue-url-pw")),
		base64.RawURLEncoding.EncodeToString([]byte("deploy:green-url-pw")),
		base64.StdEncoding.EncodeToString([]byte("reader:prom-password")),
	} {
		assert.Equal(t, "x <secret> x", rd.Redact("x "+s+" x"), s)
	}
	assert.Equal(t, "eu", rd.Redact("eu"), "a 2-byte ${ENV} value of an ordinary header is not taken for a secret")
	assert.Equal(t, "https://<secret>@blue.internal", rd.Redact("https://deploy:blue-url-pw@blue.internal"))
}

// TestLoadErrorsRedactSecrets: an error that quotes a value built from a secret says <secret>.
func TestLoadErrorsRedactSecrets(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "a.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments:
  blue: {url: "${BLUE_URL}"}
  green: {url: "https://deploy:literal-url-pw@green internal"}
baseline: blue
candidate: green
checks: [{name: c, errorRate: {prometheus: {errors: "1", total: "2"}, maxIncrease: 1%}}]
sources: {prometheus: {url: "${PROM_URL}"}}
---
apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets: {tok: {env: TOK}}
steps:
  - name: a
    timeout: "${TOK}"
    http: {url: /x, headers: {X-Key: '{{ secret "tok" }}'}}
`)
	_, err := Load([]string{p}, LoadOptions{LookupEnv: envOf(
		"BLUE_URL", "ftp://deploy:env-url-pw@blue.internal",
		"PROM_URL", "prom.internal/?token=x&u=https://reader:prom-url-pw@x y",
		"TOK", "tok-secret-value")})
	require.Error(t, err)
	msg := err.Error()
	for _, s := range []string{"env-url-pw", "literal-url-pw", "prom-url-pw", "tok-secret-value"} {
		assert.NotContains(t, msg, s)
	}
	// The user name may stay (it is no credential); the password never does.
	assert.Regexp(t, `environment blue: url "ftp://(deploy:)?<secret>@blue.internal" is not an http\(s\) URL`, msg)
	assert.Regexp(t, `environment green: url "https://(deploy:)?<secret>@green internal" is not an http\(s\) URL`, msg)
	assert.Contains(t, msg, `"<secret>"`, "the timeout error quotes the secret, redacted")
}
