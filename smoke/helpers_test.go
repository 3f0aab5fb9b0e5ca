package smoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/require"
)

const testUserAgent = "greenlight-test/1.0"

// suiteHeader starts every inline suite; tests append their own fields and steps.
const suiteHeader = "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: test}\n"

// noEnv is a LookupEnv that knows no variables, so tests never depend on the machine's.
func noEnv(string) (string, bool) { return "", false }

// envOf returns a LookupEnv that knows only the given variables.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// parseSuite loads one suite from YAML text (suiteHeader is prepended).
func parseSuite(t testing.TB, body string) *specs.Suite {
	t.Helper()
	return parseSuiteEnv(t, body, noEnv)
}

func parseSuiteEnv(t testing.TB, body string, lookup func(string) (string, bool)) *specs.Suite {
	t.Helper()
	docs, err := specs.Parse("test.yaml", []byte(suiteHeader+body), specs.LoadOptions{LookupEnv: lookup})
	require.NoError(t, err, body)
	require.Len(t, docs.Suites, 1)
	return docs.Suites[0]
}

// loadSuiteFile writes files (name → content) into a fresh folder and loads suite.yaml from it,
// so that relative paths in the spec (tls.caFile) resolve against that folder.
func loadSuiteFile(t testing.TB, body string, files map[string][]byte) *specs.Suite {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), content, 0o600))
	}
	path := filepath.Join(dir, "suite.yaml")
	require.NoError(t, os.WriteFile(path, []byte(suiteHeader+body), 0o600))
	docs, err := specs.Load([]string{path}, specs.LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	return docs.Suites[0]
}

// green returns a one-environment target map: green at url.
func green(url string) map[string]smoke.Target {
	return map[string]smoke.Target{"green": {Name: "green", URL: url}}
}

// runSuite runs suite on green against url with a fresh runner.
func runSuite(t testing.TB, suite *specs.Suite, url string) *smoke.SuiteResult {
	t.Helper()
	return smoke.NewRunner(testUserAgent, nil).Run(testContext(t), suite, "green", green(url))
}

func testContext(t testing.TB) context.Context {
	if tt, ok := t.(*testing.T); ok {
		return tt.Context()
	}
	return context.Background()
}

// step returns the result of the named step.
func step(t testing.TB, res *smoke.SuiteResult, name string) smoke.StepResult {
	t.Helper()
	for _, s := range res.Steps {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "no such step", "%q in result:\n%s", name, dump(res))
	return smoke.StepResult{}
}

// statuses lists step statuses in order, for compact comparisons.
func statuses(res *smoke.SuiteResult) []smoke.Status {
	out := make([]smoke.Status, len(res.Steps))
	for i, s := range res.Steps {
		out[i] = s.Status
	}
	return out
}

// dump renders a result for failure messages.
func dump(res *smoke.SuiteResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "suite %s on %s: %s err=%q\n", res.Suite.Metadata.Name, res.Environment, res.Status, res.Err)
	for _, s := range res.Steps {
		fmt.Fprintf(&b, "  %-14s %-8s attempts=%d code=%d req=%q err=%q\n", s.Name, s.Status, s.Attempts, s.StatusCode, s.Request, s.Err)
		for _, c := range s.Conditions {
			fmt.Fprintf(&b, "      %v %s: %s\n", c.Passed, c.Expression, c.Detail)
		}
	}
	return b.String()
}

// received is one request as a server saw it.
type received struct {
	Method     string
	Path       string
	RawPath    string
	RequestURI string
	Query      string
	Header     http.Header
	Body       string
}

// recorder records every request it serves, then hands it to next (200 {"ok":true} when nil).
type recorder struct {
	mu   sync.Mutex
	reqs []received
	next http.Handler
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, received{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RequestURI: r.RequestURI,
		Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body),
	})
	rc.mu.Unlock()
	if rc.next == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *recorder) paths() []string {
	var out []string
	for _, r := range rc.requests() {
		out = append(out, r.Path)
	}
	return out
}

// newRecorder starts a server recording requests in front of next.
func newRecorder(t testing.TB, next http.Handler) (*recorder, *httptest.Server) {
	t.Helper()
	rc := &recorder{next: next}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusHandler answers with the status given as ?status=N (default 200) and a small JSON body.
func statusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			_, _ = fmt.Sscan(s, &code)
		}
		writeJSON(w, code, map[string]any{"ok": code < 400, "path": r.URL.Path})
	})
}

// sleepHandler waits ?ms=N milliseconds, or until the client gives up, then answers 200.
func sleepHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ms int
		_, _ = fmt.Sscan(r.URL.Query().Get("ms"), &ms)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			writeJSON(w, http.StatusOK, map[string]any{"slept": ms})
		case <-r.Context().Done():
		}
	})
}

// closedURL returns the base URL of a loopback port nobody listens on any more.
func closedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}
