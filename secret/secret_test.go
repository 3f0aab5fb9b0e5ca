package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	htmltemplate "html/template"
	"net/url"
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

// A value under MinLength bytes is never redacted: blanking every "1" or "80" would mangle
// ports and status codes (the loader refuses such a declared secret instead).
func TestRedactorIgnoresTooShortValues(t *testing.T) {
	rd := NewRedactor("1", "ab", "xyz")
	assert.True(t, rd.Empty())
	assert.Equal(t, "GET http://127.0.0.1:8081/ab → 201 xyz", rd.Redact("GET http://127.0.0.1:8081/ab → 201 xyz"))
}

func TestRedactor(t *testing.T) {
	rd := NewRedactor("p@ss word", "tok3n", "")
	got := rd.Redact(`url=/x?key=p%40ss+word body={"pw":"p@ss word"} header=tok3n tok3ns`)
	assert.Equal(t, `url=/x?key=<secret> body={"pw":"<secret>"} header=<secret> <secret>s`, got,
		"plain, URL-encoded and JSON-escaped forms are all redacted")
	rd.Add(`quo"te`)
	assert.Equal(t, `{"a":"<secret>"}`, rd.Redact(`{"a":"quo\"te"}`))
	var nilRd *Redactor
	assert.Equal(t, "x", nilRd.Redact("x"))
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

func TestHeaderValues(t *testing.T) {
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
			assert.ElementsMatch(t, tt.want, HeaderValues(tt.header, tt.value))
		})
	}
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
