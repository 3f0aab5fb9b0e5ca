package smoke_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redirectServer serves /target and redirect chains: /redirect → /target and
// /r1 → /r2 → /r3 → /target (three redirects).
func redirectServer(t *testing.T) (*recorder, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"at": "target"})
	})
	for from, to := range map[string]string{"/redirect": "/target", "/r1": "/r2", "/r2": "/r3", "/r3": "/target"} {
		mux.HandleFunc(from, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", to)
			writeJSON(w, http.StatusFound, map[string]any{"location": to})
		})
	}
	rc, srv := newRecorder(t, mux)
	return rc, srv.URL
}

func TestRedirects(t *testing.T) {
	tests := []struct {
		name      string
		suite     string
		status    smoke.Status
		code      int
		errSubstr string
		paths     []string // what the server saw
	}{
		{
			name:   "followed by default",
			suite:  "steps:\n  - name: s\n    http: {url: /redirect}\n    expect: [status == 200, 'json.at == \"target\"']\n",
			status: smoke.Passed, code: 200,
			paths: []string{"/redirect", "/target"},
		},
		{
			name:   "followRedirects false shows the 302",
			suite:  "steps:\n  - name: s\n    http: {url: /redirect, followRedirects: false}\n    expect: [status == 302, 'header(\"Location\") == \"/target\"']\n",
			status: smoke.Passed, code: 302,
			paths: []string{"/redirect"},
		},
		{
			name:   "defaults.followRedirects false, step overrides",
			suite:  "defaults: {followRedirects: false}\nsteps:\n  - name: s\n    http: {url: /redirect, followRedirects: true}\n    expect: [status == 200]\n",
			status: smoke.Passed, code: 200,
			paths: []string{"/redirect", "/target"},
		},
		{
			name:   "maxRedirects 1 with a chain of 3",
			suite:  "steps:\n  - name: s\n    http: {url: /r1, maxRedirects: 1}\n",
			status: smoke.Errored, errSubstr: "stopped after 1 redirects",
			paths: []string{"/r1", "/r2"},
		},
		{
			name:   "defaults.maxRedirects 3 with a chain of 3",
			suite:  "defaults: {maxRedirects: 3}\nsteps:\n  - name: s\n    http: {url: /r1}\n    expect: [status == 200]\n",
			status: smoke.Passed, code: 200,
			paths: []string{"/r1", "/r2", "/r3", "/target"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, url := redirectServer(t)
			res := runSuite(t, parseSuite(t, tt.suite), url)
			s := step(t, res, "s")
			assert.Equal(t, tt.status, s.Status, dump(res))
			assert.Equal(t, tt.code, s.StatusCode)
			if tt.errSubstr == "" {
				assert.Empty(t, s.Err)
			} else {
				assert.Contains(t, s.Err, tt.errSubstr)
			}
			assert.Equal(t, tt.paths, rc.paths())
			for _, r := range rc.requests() {
				assert.Equal(t, "1", r.Header.Get("X-Greenlight-Synthetic"), "redirected request %s stays labelled", r.Path)
				assert.Regexp(t, traceparentRe, r.Header.Get("Traceparent"), r.Path)
			}
		})
	}
}

func TestMaxBodySize(t *testing.T) {
	_, srv := newRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		switch r.URL.Path {
		case "/2k":
			n = 2048
		case "/1k":
			n = 1024
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	tests := []struct {
		name   string
		suite  string
		status smoke.Status
		err    string
	}{
		{
			name:   "2KiB body over a 1KiB cap",
			suite:  "defaults: {maxBodySize: 1KiB}\nsteps:\n  - name: s\n    http: {url: /2k}\n",
			status: smoke.Errored, err: "response body exceeds maxBodySize (1024 bytes)",
		},
		{
			name:   "body exactly at the cap",
			suite:  "defaults: {maxBodySize: 1KiB}\nsteps:\n  - name: s\n    http: {url: /1k}\n    expect: [len(body) == 1024]\n",
			status: smoke.Passed,
		},
		{
			name:   "step raises the cap",
			suite:  "defaults: {maxBodySize: 1KiB}\nsteps:\n  - name: s\n    http: {url: /2k, maxBodySize: 4KiB}\n    expect: [len(body) == 2048]\n",
			status: smoke.Passed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runSuite(t, parseSuite(t, tt.suite), srv.URL)
			s := step(t, res, "s")
			assert.Equal(t, tt.status, s.Status, dump(res))
			assert.Equal(t, tt.err, s.Err)
		})
	}
}

func TestRequestURL(t *testing.T) {
	tests := []struct {
		name    string
		base    string // appended to the server URL
		url     string
		query   string // YAML mapping for http.query, "" for none
		wantURI string // RequestURI the server sees
	}{
		{name: "base without path", url: "/health", wantURI: "/health"},
		{name: "base with a path prefix", base: "/prefix", url: "/health", wantURI: "/prefix/health"},
		{name: "prefix with trailing slash", base: "/prefix/", url: "/health", wantURI: "/prefix/health"},
		{name: "step path without leading slash", base: "/prefix", url: "health", wantURI: "/prefix/health"},
		{name: "queries of base and step merge", base: "/p?tenant=a", url: "/health?x=1", wantURI: "/p/health?tenant=a&x=1"},
		{name: "query field adds to url query", url: "/search?q=a", query: "{page: '2', q: b}", wantURI: "/search?page=2&q=a&q=b"},
		{name: "query values are escaped", url: "/search", query: "{q: 'a b&c'}", wantURI: "/search?q=a+b%26c"},
		{name: "escaped slash in a path segment is kept", url: "/items/a%2Fb", wantURI: "/items/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newRecorder(t, nil)
			body := "steps:\n  - name: s\n    http:\n      url: " + quoteYAML(tt.url) + "\n"
			if tt.query != "" {
				body += "      query: " + tt.query + "\n"
			}
			res := runSuite(t, parseSuite(t, body), srv.URL+tt.base)
			require.True(t, res.Passed(), dump(res))
			reqs := rc.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.wantURI, reqs[0].RequestURI, "what the server saw")
			assert.Equal(t, "GET "+srv.URL+tt.wantURI, step(t, res, "s").Request, "what the report shows")
		})
	}
}

func quoteYAML(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func TestAbsoluteStepURLIgnoresBase(t *testing.T) {
	rc, srv := newRecorder(t, nil)
	suite := parseSuite(t, "steps:\n  - name: s\n    http: {url: '"+srv.URL+"/abs'}\n")
	res := runSuite(t, suite, "http://127.0.0.1:1/elsewhere")
	require.True(t, res.Passed(), dump(res))
	assert.Equal(t, []string{"/abs"}, rc.paths())
}

func TestRequestBodiesAndHeaders(t *testing.T) {
	tests := []struct {
		name       string
		http       string
		wantMethod string
		wantType   string
		wantBody   string
		wantHeader map[string]string
	}{
		{
			name:       "raw body",
			http:       "{method: PUT, url: /x, body: 'hello {{ .vars.who }}', headers: {Content-Type: text/plain}}",
			wantMethod: "PUT", wantType: "text/plain", wantBody: "hello world",
		},
		{
			name:       "form body",
			http:       "{method: POST, url: /x, form: {b: '2', a: '{{ .vars.who }} x'}}",
			wantMethod: "POST", wantType: "application/x-www-form-urlencoded", wantBody: "a=world+x&b=2",
		},
		{
			name:       "json body keeps YAML types",
			http:       "{method: PATCH, url: /x, json: {n: 1, ok: true, s: '{{ .vars.who }}', l: [a, 2]}}",
			wantMethod: "PATCH", wantType: "application/json", wantBody: `{"l":["a",2],"n":1,"ok":true,"s":"world"}`,
		},
		{
			name:       "default headers, step wins whatever the case",
			http:       "{url: /x, headers: {accept: text/csv}}",
			wantMethod: "GET",
			wantHeader: map[string]string{"Accept": "text/csv", "X-Team": "core", "X-Target": "t1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newRecorder(t, nil)
			suite := parseSuite(t, "vars: {who: world}\ndefaults: {headers: {Accept: application/json, X-Team: core}}\nsteps:\n  - name: s\n    http: "+tt.http+"\n")
			targets := map[string]smoke.Target{"green": {Name: "green", URL: srv.URL, Headers: map[string]string{"X-Target": "t1"}}}
			res := smoke.NewRunner(testUserAgent, nil).Run(t.Context(), suite, "green", targets)
			require.True(t, res.Passed(), dump(res))
			r := rc.requests()[0]
			assert.Equal(t, tt.wantMethod, r.Method)
			assert.Equal(t, tt.wantType, r.Header.Get("Content-Type"))
			assert.Equal(t, tt.wantBody, r.Body)
			for k, want := range tt.wantHeader {
				assert.Equal(t, []string{want}, r.Header.Values(k), k)
			}
		})
	}
}

// TestHostHeader: blue/green behind one ingress is often told apart by Host alone, so a Host
// header in a step (or a target) must reach the server.
func TestHostHeader(t *testing.T) {
	var mu sync.Mutex
	var host string
	_, srv := newRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host = r.Host
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	tests := []struct {
		name    string
		headers string
		target  map[string]string
		want    string
	}{
		{name: "no Host header", want: strings.TrimPrefix(srv.URL, "http://")},
		{name: "step Host header", headers: "{Host: green.example.test}", want: "green.example.test"},
		{name: "target Host header", target: map[string]string{"Host": "blue.example.test"}, want: "blue.example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "steps:\n  - name: s\n    http: {url: /}\n"
			if tt.headers != "" {
				body = "steps:\n  - name: s\n    http: {url: /, headers: " + tt.headers + "}\n"
			}
			targets := map[string]smoke.Target{"green": {Name: "green", URL: srv.URL, Headers: tt.target}}
			res := smoke.NewRunner(testUserAgent, nil).Run(t.Context(), parseSuite(t, body), "green", targets)
			require.True(t, res.Passed(), dump(res))
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, tt.want, host, "Host the server saw")
		})
	}
}
