package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// The secrets of TestNoOutputLeaksSecrets, one per way a credential reaches a request.
const (
	leakToken       = `tok/S3cr3t+<&>"'=` // declared: secrets.token (env), in a query, a header and a JSON body
	leakPEM         = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj\nAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2\n-----END PRIVATE KEY-----"
	leakURLUser     = "robot"                              // the URL's userinfo, given with --target / --env
	leakURLPassword = "UrlP4ss/w0rd"                       // sent by net/http as Authorization: Basic
	leakDeployKey   = "deploy-key-from-env"                // defaults.headers {X-Deploy-Key: ${GL_LEAK_DEPLOY}}
	leakEnvKey      = "env-header-from-env"                // environments.green.headers {X-Env-Key: ${GL_LEAK_ENV}} (verify)
	leakBadURLPass  = "BadUrlPassw0rd"                     // in a URL that does not parse (error messages)
	leakUserinfoURL = leakURLUser + ":" + "UrlP4ss%2Fw0rd" // as written in the URL
)

// leakEncodings are the ways a server (or a renderer) may write a value it got: each must be
// absent from every output.
var leakEncodings = []struct {
	name string
	enc  func(string) string
}{
	{"raw", func(s string) string { return s }},
	{"query", url.QueryEscape},
	{"querylower", func(s string) string {
		return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(s), strings.ToLower)
	}},
	{"path", url.PathEscape},
	{"json", func(s string) string { return jsonInner(s, true) }},
	{"jsonnohtml", func(s string) string { return jsonInner(s, false) }},
	{"jsonslash", func(s string) string { return strings.ReplaceAll(jsonInner(s, false), "/", `\/`) }},
	{"jsoninjson", func(s string) string { return jsonInner(jsonInner(s, true), true) }},
	{"jsonascii", func(s string) string {
		var b strings.Builder
		for _, r := range jsonInner(s, true) {
			if r < 0x80 {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		return b.String()
	}},
	{"goquoted", func(s string) string { q := fmt.Sprintf("%q", s); return q[1 : len(q)-1] }},
	{"html", html.EscapeString},
	{"htmlnamed", func(s string) string { return strings.ReplaceAll(html.EscapeString(s), "&#34;", "&quot;") }},
	{"xml", func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}},
	{"crlf", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }},
	{"base64", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
	{"base64url", func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }},
	{"base64raw", func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }},
	{"base64rawurl", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
}

func jsonInner(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

// leakValues are the secret values as the server extracts them from a request, by name.
func leakValues(r *http.Request, body map[string]string) map[string]string {
	vals := map[string]string{
		"token":  r.URL.Query().Get("key"),
		"header": r.Header.Get("X-Token"),
		"body":   body["password"],
		"pem":    body["key"],
		"deploy": r.Header.Get("X-Deploy-Key"),
		"envkey": r.Header.Get("X-Env-Key"),
		"basic":  r.Header.Get("Authorization"),
	}
	if user, pass, ok := r.BasicAuth(); ok {
		vals["userpass"], vals["password"] = user+":"+pass, pass
	}
	for i, line := range strings.Split(body["key"], "\n") {
		vals[fmt.Sprintf("pemline%d", i)] = line
	}
	return vals
}

// leakServer answers every request with a 500 that echoes each secret it received, in every
// encoding, in its headers (X-Echo-NAME-ENCODING) and in its JSON body (NAME_ENCODING).
type leakServer struct {
	*httptest.Server
	mu       sync.Mutex
	received []map[string]string
}

func newLeakServer(t *testing.T) *leakServer {
	ls := &leakServer{}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		vals := leakValues(r, body)
		ls.mu.Lock()
		ls.received = append(ls.received, vals)
		ls.mu.Unlock()
		echo := map[string]string{}
		for name, v := range vals {
			if v == "" {
				continue
			}
			for _, e := range leakEncodings {
				ev := e.enc(v)
				echo[name+"_"+e.name] = ev
				if !strings.ContainsAny(ev, "\r\n") {
					w.Header().Set("X-Echo-"+name+"-"+e.name, ev)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(echo)
	}))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *leakServer) got() []map[string]string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return append([]map[string]string(nil), ls.received...)
}

// leakSuite is a suite sending every secret, with a condition showing each echoed form in the
// failure details.
func leakSuite() string {
	var expect []string
	names := []string{"token", "header", "body", "pem", "deploy", "envkey", "basic", "userpass", "password", "pemline1", "pemline2"}
	for _, n := range names {
		for _, e := range leakEncodings {
			expect = append(expect, fmt.Sprintf(`      - 'json.%s_%s == "none"'`, n, e.name))
			expect = append(expect, fmt.Sprintf(`      - 'header("X-Echo-%s-%s") == "none"'`, n, e.name))
		}
	}
	return `apiVersion: greenlight/v1
kind: Suite
metadata: {name: leak}
secrets:
  token: {env: GL_LEAK_TOKEN}
  pem: {file: key.pem}
defaults:
  headers: {X-Deploy-Key: "${GL_LEAK_DEPLOY}"}
steps:
  - name: echo
    http:
      method: POST
      url: /echo
      query: {key: '{{ secret "token" }}'}
      headers: {X-Token: '{{ secret "token" }}'}
      json: {password: '{{ secret "token" }}', key: '{{ secret "pem" }}'}
    expect:
      - status == 200
` + strings.Join(expect, "\n") + "\n"
}

const leakAnalysis = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: leak}
environments:
  blue: {}
  green: {headers: {X-Env-Key: "${GL_LEAK_ENV}"}}
baseline: blue
candidate: green
smoke: [leak]
monitors: [{name: probe, every: 10ms, step: {http: {url: /health}}}]
checks: [{name: errors, errorRate: {from: probe, maxIncrease: 5%}}]
policy: {minDuration: 10ms, maxDuration: 1s}
`

// TestNoOutputLeaksSecrets runs smoke and verify against a server that echoes every secret it
// receives, in every encoding, in a failing response, and checks every output — text, verbose
// text, -o json, the JUnit, JSON and Markdown reports, the GitHub step summary and stderr —
// for each secret in each encoding. The server must have received each secret.
func TestNoOutputLeaksSecrets(t *testing.T) {
	t.Setenv("GL_LEAK_TOKEN", leakToken)
	t.Setenv("GL_LEAK_DEPLOY", leakDeployKey)
	t.Setenv("GL_LEAK_ENV", leakEnvKey)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), []byte(leakPEM+"\n"), 0o600))
	suite := filepath.Join(dir, "leak.yaml")
	require.NoError(t, os.WriteFile(suite, []byte(leakSuite()), 0o600))
	analysisFile := filepath.Join(dir, "analysis.yaml")
	require.NoError(t, os.WriteFile(analysisFile, []byte(leakAnalysis), 0o600))
	t.Setenv("GL_LEAK_BAD_URL", "ftp://robot:"+leakBadURLPass+"@blue.internal")
	badSpec := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badSpec, []byte(strings.Replace(leakAnalysis, "blue: {}", `blue: {url: "${GL_LEAK_BAD_URL}"}`, 1)), 0o600))
	srv := newLeakServer(t)
	withUserinfo := strings.Replace(srv.URL, "://", "://"+leakUserinfoURL+"@", 1)

	secrets := []string{leakToken, leakPEM, leakURLPassword, leakURLUser + ":" + leakURLPassword, leakDeployKey, leakEnvKey, leakBadURLPass}
	for _, line := range strings.Split(leakPEM, "\n")[1:3] {
		secrets = append(secrets, line)
	}
	type run struct {
		name string
		args []string
		code verdict.ExitCode
	}
	runs := []run{
		{"smoke text", []string{"smoke", suite, "--target", withUserinfo}, verdict.ExitFail},
		{"smoke verbose", []string{"smoke", suite, "--target", withUserinfo, "-v"}, verdict.ExitFail},
		{"smoke json", []string{"smoke", suite, "--env", "green=" + withUserinfo, "-o", "json"}, verdict.ExitFail},
		{"verify text", []string{"verify", analysisFile, suite, "--env", "blue=" + srv.URL, "--env", "green=" + withUserinfo}, verdict.ExitFail},
		{"verify json", []string{"verify", analysisFile, suite, "--env", "blue=" + srv.URL, "--env", "green=" + withUserinfo, "-o", "json"}, verdict.ExitFail},
		{"smoke error: a --target URL that does not parse", []string{"smoke", suite, "--target", "http://robot:" + leakBadURLPass + "@bad host"}, verdict.ExitInvalid},
		{"verify error: an --env URL that is not http", []string{"verify", analysisFile, suite, "--env", "blue=" + srv.URL, "--env", "green=ftp://robot:" + leakBadURLPass + "@host"}, verdict.ExitInvalid},
		{"verify error: an --env flag without a name", []string{"verify", analysisFile, suite, "--env", "=http://robot:" + leakBadURLPass + "@host"}, verdict.ExitInvalid},
		{"validate error: a ${ENV} URL that is not http", []string{"validate", badSpec, suite}, verdict.ExitInvalid},
		{"flag error quoting a URL", []string{"smoke", suite, "--parallel", "http://robot:" + leakBadURLPass + "@host"}, verdict.ExitInvalid},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			junit, js, md, summary := filepath.Join(out, "r.xml"), filepath.Join(out, "r.json"), filepath.Join(out, "r.md"), filepath.Join(out, "summary.md")
			t.Setenv("GITHUB_STEP_SUMMARY", summary)
			args := r.args
			if args[0] != "validate" {
				args = append(args, "--report", "junit="+junit, "--report", "json="+js, "--report", "markdown="+md)
			}
			code, stdout, stderr := cli(t, args...)
			require.Equal(t, r.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

			outputs := map[string]string{"stdout": stdout, "stderr": stderr}
			if r.code == verdict.ExitFail {
				for _, f := range []string{junit, js, md, summary} {
					outputs[filepath.Base(f)] = string(readFile(t, f))
				}
				assert.Regexp(t, `<secret>|\\u003csecret\\u003e`, stdout, "the failure details are there, redacted")
			} else {
				assert.Contains(t, stderr, "<secret>", "the error quotes the URL, redacted")
			}
			for where, text := range outputs {
				for _, s := range secrets {
					for _, e := range leakEncodings {
						if form := e.enc(s); strings.Contains(text, form) {
							i := strings.Index(text, form)
							t.Errorf("%s holds a secret (%s of %q): …%s…", where, e.name, s, text[max(0, i-60):min(len(text), i+len(form)+20)])
						}
					}
				}
			}
		})
	}

	// The server did receive every secret, so the outputs above had them to leak.
	got := map[string]bool{}
	for _, vals := range srv.got() {
		for _, v := range vals {
			got[v] = true
		}
	}
	for _, s := range []string{leakToken, leakPEM, leakURLPassword, leakDeployKey, leakEnvKey} {
		assert.True(t, got[s], "the server never received %q", s)
	}
}
