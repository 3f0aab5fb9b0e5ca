package specs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	htmltemplate "html/template"
	"net/url"
	"path/filepath"
	"regexp"
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

// encoders are the ways real encoders write a value a server echoed back, or a renderer put in
// a report; each must come out redacted.
var encoders = map[string]func(string) string{
	"raw":   func(s string) string { return s },
	"query": url.QueryEscape,
	"query lower-case": func(s string) string {
		return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(s), strings.ToLower)
	},
	"path":                       url.PathEscape,
	"json (Go default)":          func(s string) string { return marshalJSON(s, true) },
	"json without HTML escaping": func(s string) string { return marshalJSON(s, false) },
	"json with escaped slashes": func(s string) string {
		return strings.ReplaceAll(marshalJSON(s, false), "/", `\/`)
	},
	"json inside json": func(s string) string {
		inner, _ := json.Marshal(map[string]string{"password": s})
		return marshalJSON(string(inner), true)
	},
	"json ascii only": func(s string) string {
		var b strings.Builder
		for _, r := range marshalJSON(s, true) {
			if r < 0x80 {
				b.WriteRune(r)
			} else if r > 0xFFFF {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		return b.String()
	},
	"json .NET style": func(s string) string {
		var b strings.Builder
		for _, r := range marshalJSON(s, false) {
			switch {
			case strings.ContainsRune("<>&'+`", r) || r >= 0x80 && r <= 0xFFFF:
				fmt.Fprintf(&b, `\u%04X`, r)
			case r > 0xFFFF:
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04X\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			default:
				b.WriteRune(r)
			}
		}
		return strings.ReplaceAll(b.String(), `\"`, `\u0022`)
	},
	"go quoted":              func(s string) string { return fmt.Sprintf("%q", s) },
	"html":                   html.EscapeString,
	"html/template":          htmltemplate.HTMLEscapeString,
	"html named entities":    func(s string) string { return strings.ReplaceAll(html.EscapeString(s), "&#34;", "&quot;") },
	"xml":                    xmlText,
	"json inside xml":        func(s string) string { return xmlText(marshalJSON(s, true)) },
	"base64":                 func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"base64 url":             func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) },
	"base64 unpadded":        func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) },
	"base64 url unpadded":    func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	"base64 in a json value": func(s string) string { return marshalJSON(base64.StdEncoding.EncodeToString([]byte(s)), false) },
}

func marshalJSON(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func TestRedactorEncodings(t *testing.T) {
	const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END PRIVATE KEY-----"
	secrets := map[string]string{
		"plain":         "Zq9xK2mW7pL4vB8n",
		"punctuation":   `p@ss/w<o>r&d"'+= %x`,
		"unicode":       "pässwörd-ünicode-😀-x",
		"with newlines": "line-one-secret\nline-two-secret",
		"pem key":       pem,
	}
	for name, secret := range secrets {
		rd := NewRedactor(Secret(secret))
		variants := map[string]string{"as given": secret}
		if strings.Contains(secret, "\n") {
			variants["with CRLF"] = strings.ReplaceAll(secret, "\n", "\r\n")
		}
		for vname, v := range variants {
			for ename, enc := range encoders {
				t.Run(name+"/"+vname+"/"+ename, func(t *testing.T) {
					encoded := enc(v)
					text := "before " + encoded + " after"
					got := rd.Redact(text)
					assert.NotContains(t, got, encoded)
					assert.Contains(t, got, "<secret>")
					assert.True(t, strings.HasPrefix(got, "before ") && strings.HasSuffix(got, " after"), "only the secret is replaced: %q", got)
				})
			}
		}
	}
	t.Run("each line of a multi-line secret", func(t *testing.T) {
		rd := NewRedactor(Secret(pem))
		for _, line := range strings.Split(pem, "\n")[1:3] {
			assert.Equal(t, "key line: <secret>.", rd.Redact("key line: "+line+"."))
			assert.Equal(t, `{"l":"<secret>"}`, rd.Redact(`{"l":"`+strings.ReplaceAll(line, "/", `\/`)+`"}`))
		}
	})
	t.Run("short lines stay", func(t *testing.T) {
		rd := NewRedactor("short\nsecret-line-two")
		assert.Equal(t, "short <secret>", rd.Redact("short secret-line-two"), "lines under 8 bytes are not secrets on their own")
	})
}

func TestRedactorConcurrentAdd(t *testing.T) {
	rd := NewRedactor("first-secret")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_ = rd.Redact("first-secret second-secret")
		}
	}()
	rd.Add("second-secret")
	<-done
	assert.Equal(t, "<secret> <secret>", rd.Redact("first-secret second-secret"), "a secret added later is redacted from then on")
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

func TestURLSecrets(t *testing.T) {
	tests := []struct {
		name, url string
		want      []Secret
	}{
		{"user and password", "https://deploy:hunter2-pw@green.internal/x", []Secret{"hunter2-pw", "deploy:hunter2-pw"}},
		{"percent-encoded password", "https://deploy:p%40ss%2Fw@green.internal", []Secret{"p%40ss%2Fw", "p@ss/w", "deploy:p%40ss%2Fw", "deploy:p@ss/w"}},
		{"token as the user name", "https://ghp_token123@git.internal/", []Secret{"ghp_token123", "ghp_token123:"}},
		{"malformed URL still gives its password", "https://deploy:pa ss@bad host/", []Secret{"pa ss", "deploy:pa ss"}},
		{"no userinfo", "https://green.internal/a@b?c=d@e", nil},
		{"not a URL", "deploy:pw@host", nil},
		{"a URL inside a query", "https://a.internal/?next=https://u:inner-pw@b.internal", []Secret{"inner-pw", "u:inner-pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ElementsMatch(t, tt.want, URLSecrets(tt.url))
		})
	}
}

func TestHeaderSecrets(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("deploy:hunter2-pw"))
	tests := []struct {
		name, header, value string
		want                []Secret
	}{
		{"bearer", "Authorization", "Bearer abc.def", []Secret{"Bearer abc.def", "abc.def"}},
		{"basic", "authorization", "Basic " + basic, []Secret{Secret("Basic " + basic), Secret(basic), "deploy:hunter2-pw", "hunter2-pw"}},
		{"api key", "X-Api-Key", "k-123", []Secret{"k-123"}},
		{"token in the name", "X-Vault-Token", "hvs.abc", []Secret{"hvs.abc"}},
		{"secret in the name", "X-Client-Secret", "cs", []Secret{"cs"}},
		{"cookie", "Cookie", "session=abcdefgh1234; theme=dark", []Secret{"session=abcdefgh1234; theme=dark", "abcdefgh1234"}},
		{"proxy", "Proxy-Authorization", "Basic x", []Secret{"Basic x", "x"}},
		{"not a credential", "X-Tenant", "team-a", nil},
		{"synthetic label", "X-Greenlight-Synthetic", "1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ElementsMatch(t, tt.want, HeaderSecrets(tt.header, tt.value))
		})
	}
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
