package smoke_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoHandler answers 500 with the request (URL, headers, body) in its body and the request's
// Authorization in X-Echo-Auth: the worst case, a server that reflects credentials.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "URL: %s\n", r.RequestURI)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ","))
		}
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(r.Body)
		fmt.Fprintf(&b, "BODY: %s\n", body)
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(b.String()))
	})
}

// leakForms are the ways a secret can show in text: as is, escaped for a URL, for JSON or as a
// Go string, and cut in half (a truncated value still gives half a password away).
func leakForms(secret string) map[string]string {
	quoted := strconv.Quote(secret)
	jsonEsc, _ := json.Marshal(secret)
	forms := map[string]string{
		"raw":        secret,
		"query":      url.QueryEscape(secret),
		"path":       url.PathEscape(secret),
		"json":       string(jsonEsc[1 : len(jsonEsc)-1]),
		"go-quoted":  quoted[1 : len(quoted)-1],
		"first half": secret[:len(secret)/2],
		"last half":  secret[len(secret)/2:],
	}
	return forms
}

// The environment's own credentials in TestSecretsNeverReachResults.
const (
	envURLPassword = "EnvUrlPassw0rd"
	envToken       = "EnvHeaderT0ken"
	envTenant      = "EnvTenantValue"
)

func TestSecretsNeverReachResults(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		path   string // the echo URL's path; its length places the secret in the echoed body
	}{
		{name: "plain secret", secret: "Zq9xK2mW7pL4vB8n", path: "/echo"},
		{name: "secret with quotes, backslash and space", secret: `Zq9x"K2m\W7 pL4&vB8n`, path: "/echo"},
		// In a path a space is escaped as %20, in a query as +.
		{name: "secret in the URL path", secret: "Zq9x K2mW7pL4vB8n", path: `/echo/{{ secret "tok" }}`},
		// "URL: /echo/" + pad + "?key=" puts the secret at byte 110 of the body, across the
		// 120-byte cut of values in a condition's detail.
		{name: "secret across the detail's truncation", secret: "Zq9xK2mW7pL4vB8n", path: "/echo/" + strings.Repeat("p", 94)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newRecorder(t, echoHandler())
			closed := closedURL(t)
			suite := parseSuiteEnv(t, fmt.Sprintf(`
secrets:
  tok: {env: TOK}
steps:
  - name: leak
    http:
      method: POST
      url: '%s'
      query: {key: '{{ secret "tok" }}'}
      headers: {Authorization: 'Bearer {{ secret "tok" }}'}
      json: {user: me, password: '{{ secret "tok" }}'}
    expect:
      - status == 200
      - body == "x"
      - header("X-Echo-Auth") == "x"
  - name: unreachable
    always: true
    retries: {attempts: 2, backoff: 1ms}
    http:
      url: %s/login
      query: {key: '{{ secret "tok" }}'}
`, tt.path, closed), envOf(map[string]string{"TOK": tt.secret}))

			var logs bytes.Buffer
			runner := smoke.NewRunner(testUserAgent, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			var mu sync.Mutex
			var live []smoke.StepResult
			runner.OnStep = func(_ *specs.Suite, _ string, r smoke.StepResult) {
				mu.Lock()
				live = append(live, r)
				mu.Unlock()
			}
			// The environment brings credentials of its own: a password in its URL, a credential
			// header, and a header value from ${ENV} its analysis declared secret.
			base, err := url.Parse(srv.URL)
			require.NoError(t, err)
			base.User = url.UserPassword("robot", envURLPassword)
			targets := map[string]smoke.Target{"green": {
				URL:     base.String(),
				Headers: map[string]string{"X-Auth-Token": envToken, "X-Tenant": envTenant},
				Secrets: []specs.Secret{envTenant},
			}}
			res := runner.Run(t.Context(), suite, "green", targets)

			// The server did receive the secret, in all three places.
			reqs := rc.requests()
			require.Len(t, reqs, 1)
			got := reqs[0]
			require.Equal(t, envToken, got.Header.Get("X-Auth-Token"))
			require.Equal(t, envTenant, got.Header.Get("X-Tenant"))
			var body struct{ Password string }
			require.NoError(t, json.Unmarshal([]byte(got.Body), &body))
			q, err := url.ParseQuery(got.Query)
			require.NoError(t, err)
			require.Equal(t, tt.secret, q.Get("key"), "secret in the query")
			require.Equal(t, "Bearer "+tt.secret, got.Header.Get("Authorization"), "secret in a header")
			require.Equal(t, tt.secret, body.Password, "secret in the JSON body")

			// The run failed the way the test means it to, so the failure texts were produced.
			leak, unreachable := step(t, res, "leak"), step(t, res, "unreachable")
			require.Equal(t, smoke.Failed, leak.Status, dump(res))
			require.Len(t, leak.Conditions, 3)
			require.Equal(t, smoke.Errored, unreachable.Status, dump(res))
			assert.Equal(t, "status (500) == 200", leak.Conditions[0].Detail)
			assert.Contains(t, leak.Conditions[1].Detail, "body (")
			assert.Contains(t, leak.Request, "key=<secret>")
			assert.Contains(t, unreachable.Request, "key=<secret>")

			asJSON, err := json.Marshal(res)
			require.NoError(t, err)
			outputs := map[string]string{
				"%+v of the result":     fmt.Sprintf("%+v", res),
				"%+v of the steps":      fmt.Sprintf("%+v", res.Steps),
				"%#v of the steps":      fmt.Sprintf("%#v", res.Steps),
				"JSON of the result":    string(asJSON),
				"steps given to OnStep": fmt.Sprintf("%+v", live),
				"logs":                  logs.String(),
			}
			for where, text := range outputs {
				forms := leakForms(tt.secret)
				for _, env := range []string{envURLPassword, envToken, envTenant} {
					for form, s := range leakForms(env) {
						forms["environment's "+form+" "+env] = s
					}
				}
				for form, s := range forms {
					if i := strings.Index(text, s); i >= 0 {
						from := max(0, i-40)
						t.Errorf("%s holds the secret (%s form %q): …%s…", where, form, s, text[from:min(len(text), i+len(s)+20)])
					}
				}
			}
		})
	}
}

// TestRedirectDropsCredentials: a redirect that leaves the origin carries no credential — not
// the Authorization, Cookie or X-Api-Key the step set, not a header built from a secret, not a
// Referer quoting a secret, not the target URL's userinfo — while one that stays on the origin
// keeps them all.
func TestRedirectDropsCredentials(t *testing.T) {
	const tok = "redirect-secret-123"
	other, otherSrv := newRecorder(t, nil)
	otherPort := otherSrv.Listener.Addr().(*net.TCPAddr).Port
	var location string
	origin, originSrv := newRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, location, http.StatusFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	originURL, err := url.Parse(originSrv.URL)
	require.NoError(t, err)
	originURL.User = url.UserPassword("robot", "url-password")

	credentialed := `
secrets:
  tok: {env: TOK}
steps:
  - name: go
    http:
      url: '/start?key={{ secret "tok" }}'
      headers:
        Authorization: 'Bearer {{ secret "tok" }}'
        Cookie: 'session={{ secret "tok" }}'
        X-Api-Key: literal-api-key
        X-Custom: 'v={{ secret "tok" }}'
        X-Plain: hello
    expect: [status == 200]
`
	userinfoOnly := `
steps:
  - name: go
    http: {url: /start}
    expect: [status == 200]
`
	credentials := []string{"Authorization", "Cookie", "X-Api-Key", "X-Custom", "Referer"}
	tests := []struct {
		name     string
		suite    string
		location string
		leaves   bool
	}{
		{"same origin keeps credentials", credentialed, "/landing", false},
		{"another port of the same host", credentialed, fmt.Sprintf("http://127.0.0.1:%d/landing", otherPort), true},
		{"another host name", credentialed, fmt.Sprintf("http://localhost:%d/landing", otherPort), true},
		{"userinfo to another port", userinfoOnly, fmt.Sprintf("http://127.0.0.1:%d/landing", otherPort), true},
		{"userinfo to another host name", userinfoOnly, fmt.Sprintf("http://localhost:%d/landing", otherPort), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			location = tt.location
			before, beforeOther := len(origin.requests()), len(other.requests())
			suite := parseSuiteEnv(t, tt.suite, envOf(map[string]string{"TOK": tok}))
			res := smoke.NewRunner(testUserAgent, nil).Run(t.Context(), suite, "green", green(originURL.String()))
			require.True(t, res.Passed(), dump(res))

			first := origin.requests()[before]
			landing := origin.requests()[len(origin.requests())-1]
			if tt.leaves {
				require.Len(t, other.requests(), beforeOther+1)
				landing = other.requests()[beforeOther]
			}
			require.Equal(t, "/landing", landing.Path)
			assert.Equal(t, "1", landing.Header.Get("X-Greenlight-Synthetic"), "the redirected request is still labelled")
			if tt.suite == userinfoOnly {
				user, pass, ok := basicAuthOf(first.Header)
				require.True(t, ok, "the first request carries the URL's userinfo as basic auth")
				require.Equal(t, "robot:url-password", user+":"+pass)
				_, _, ok = basicAuthOf(landing.Header)
				assert.Equal(t, !tt.leaves, ok, "basic auth from the URL's userinfo after the redirect")
				return
			}
			assert.Equal(t, "hello", landing.Header.Get("X-Plain"), "ordinary headers follow")
			for _, h := range credentials[:4] {
				require.NotEmpty(t, first.Header.Get(h), "the first request carries %s", h)
			}
			for _, h := range credentials {
				if tt.leaves {
					assert.Empty(t, landing.Header.Get(h), "%s followed the redirect off the origin", h)
				} else if h != "Referer" {
					assert.Equal(t, first.Header.Get(h), landing.Header.Get(h), "%s follows a redirect on the origin", h)
				}
			}
			var all strings.Builder
			for k, v := range landing.Header {
				fmt.Fprintf(&all, "%s: %s\n", k, v)
			}
			if tt.leaves {
				assert.NotContains(t, all.String(), tok)
				assert.NotContains(t, all.String(), "literal-api-key")
			}
		})
	}
}

func basicAuthOf(h http.Header) (user, pass string, ok bool) {
	r := &http.Request{Header: h}
	return r.BasicAuth()
}
