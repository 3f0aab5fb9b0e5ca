package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

// serveSpecs: "gate" is decided by its smoke gate; "long" cannot decide before ten minutes.
const serveSpecs = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: gate}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [smoke]
monitors:
  - {name: probe, every: 100ms, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 10m, maxDuration: 20m}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: long}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: probe, every: 200ms, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 10m, maxDuration: 20m}
`

const (
	serveAdminToken = "admin-token-for-serve-tests"
	serveReadToken  = "read-token-for-serve-tests"
)

func specDir(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "specs.yaml"), []byte(body), 0o600))
	return dir
}

func tokensFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte("oncall admin "+serveAdminToken+"\nboard read "+serveReadToken+"\n"), 0o600))
	return p
}

// served is a greenlight serve running in-process.
type served struct {
	url    string
	cancel context.CancelFunc
	done   chan verdict.ExitCode
	once   sync.Once
	code   verdict.ExitCode
	mu     sync.Mutex
	stderr strings.Builder
	more   chan struct{} // closed and replaced at each line of stderr
}

// startServe runs greenlight serve with args (and --listen 127.0.0.1:0) until stop, and waits
// until it serves.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &served{cancel: cancel, done: make(chan verdict.ExitCode, 1), more: make(chan struct{})}
	go func() {
		code := execute(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), io.Discard, pw)
		pw.Close()
		s.done <- code
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			close(s.more)
			s.more = make(chan struct{})
			s.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "greenlight: serving on "); ok {
				ready <- u
			}
		}
		close(ready)
	}()
	u, ok := <-ready
	if !ok {
		code := <-s.done
		t.Fatalf("greenlight serve exited %d before serving:\n%s", code, s.logs())
	}
	s.url = u
	t.Cleanup(func() { s.stop(t) })
	return s
}

// waitLog waits until stderr has a line holding text, and returns everything from that line on.
func (s *served) waitLog(t *testing.T, text string) string {
	t.Helper()
	for {
		s.mu.Lock()
		logs, more := s.stderr.String(), s.more
		s.mu.Unlock()
		if i := strings.Index(logs, text); i >= 0 {
			return logs[i:]
		}
		select {
		case <-more:
		case code := <-s.done:
			s.done <- code
			t.Fatalf("greenlight serve exited %d before %q:\n%s", code, text, logs)
		}
	}
}

func (s *served) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop stops it as SIGTERM does and returns its exit code.
func (s *served) stop(t *testing.T) verdict.ExitCode {
	s.once.Do(func() {
		s.cancel()
		s.code = <-s.done
	})
	return s.code
}

func (s *served) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s", data)
	}
	return resp.StatusCode
}

type verdictJSON struct {
	ID       string `json:"id"`
	Verdict  string `json:"verdict"`
	State    string `json:"state"`
	Decided  bool   `json:"decided"`
	Reason   string `json:"reason"`
	Revision int    `json:"revision"`
}

// waitDecided long-polls a verdict until it is decided.
func (s *served) waitDecided(t *testing.T, id, token string) verdictJSON {
	t.Helper()
	for {
		var v verdictJSON
		require.Equal(t, http.StatusOK, s.call(t, "GET", "/api/v1/analyses/"+id+"/verdict?wait=30s", token, "", &v))
		if v.Decided {
			return v
		}
	}
}

// TestServeRestartKeepsVerdicts runs the daemon, decides an analysis, overrides it, leaves
// another running, stops the daemon as SIGTERM does and starts it again on the same data:
// the verdict and the audit log read back unchanged, and the running one runs again.
func TestServeRestartKeepsVerdicts(t *testing.T) {
	blue := startApp(t, app.Config{})
	green := startApp(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
	dir, data, tokens := specDir(t, serveSpecs), t.TempDir(), tokensFile(t)
	args := []string{"--config", dir, "--data", data, "--tokens-file", tokens}
	s := startServe(t, args...)

	var a struct {
		ID string `json:"id"`
	}
	start := `{"spec": "gate", "key": "deploy-42", "environments": {"blue": "` + blue + `", "green": "` + green + `"}}`
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", serveAdminToken, start, &a))
	v := s.waitDecided(t, a.ID, serveReadToken)
	assert.Equal(t, "rollback", v.Verdict, v.Reason)
	var o verdictJSON
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/api/v1/analyses/"+a.ID+"/override", serveAdminToken, `{"decision": "promote", "by": "ana", "why": "the check is wrong"}`, &o))
	assert.Equal(t, "promote", o.Verdict)
	var running struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", serveAdminToken, `{"spec": "long", "environments": {"blue": "`+blue+`", "green": "`+blue+`"}}`, &running))
	assert.Equal(t, verdict.ExitPass, s.stop(t), s.logs())
	assert.NotContains(t, s.logs(), serveAdminToken, "tokens are never logged")

	s = startServe(t, args...)
	var after verdictJSON
	require.Equal(t, http.StatusOK, s.call(t, "GET", "/api/v1/analyses/"+a.ID+"/verdict", serveReadToken, "", &after))
	assert.Equal(t, o, after, "the decided verdict, override included, reads back unchanged")
	var full struct {
		Audit []struct {
			By, Why, Token string
		} `json:"audit"`
	}
	require.Equal(t, http.StatusOK, s.call(t, "GET", "/api/v1/analyses/"+a.ID, serveReadToken, "", &full))
	require.Len(t, full.Audit, 1)
	assert.Equal(t, "ana", full.Audit[0].By)
	assert.Equal(t, "oncall", full.Audit[0].Token)
	var again struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/api/v1/analyses", serveAdminToken, start, &again), "the same key is the same analysis after a restart")
	assert.Equal(t, a.ID, again.ID)
	var r verdictJSON
	require.Equal(t, http.StatusOK, s.call(t, "GET", "/api/v1/analyses/"+running.ID+"/verdict", serveReadToken, "", &r))
	assert.Equal(t, "running", r.Verdict)
	assert.Contains(t, s.logs(), "started again the analyses that were running")
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/api/v1/analyses/"+running.ID+"/abort", serveAdminToken, `{"reason": "test over"}`, &r))
	assert.Equal(t, "interrupted", r.State)
	assert.Equal(t, verdict.ExitPass, s.stop(t))
}

func TestServeRefusesBadInput(t *testing.T) {
	bad := strings.Replace(serveSpecs, "every: 200ms", "every: often", 1)
	uncompilable := serveSpecs + `---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: dd}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources: {datadog: {baseURL: "http://127.0.0.1:1"}}
checks:
  - name: dd-errors
    errorRate:
      datadog:
        errors: 'sum:requests.errors{color:{{ .env.name }.as_count()'
        total: "sum:requests.hits{color:{{ .env.name }}}.as_count()"
      maxIncrease: 1%
`
	t.Setenv("DD_API_KEY", "k1")
	t.Setenv("DD_APP_KEY", "k2")
	settings := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(settings, []byte("listen: 127.0.0.1:0\nlisten-addr: x\n"), 0o600))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"serve"}, "no specs: give --config DIR"},
		{"a bad spec", []string{"serve", "--config", specDir(t, bad)}, `specs.yaml:27:26: invalid duration "often"`},
		{"an analysis that cannot compile", []string{"serve", "--config", specDir(t, uncompilable)}, `specs.yaml:32:1: analysis dd: check "dd-errors": datadog: errors query template`},
		{"no tokens beyond loopback", []string{"serve", "--config", specDir(t, serveSpecs), "--listen", "0.0.0.0:0", "--data", t.TempDir()}, "without API tokens"},
		{"a short token", []string{"serve", "--config", specDir(t, serveSpecs), "--tokens-file", writeTemp(t, "ci read short\n")}, "tokens:1: token ci: shorter than 16 characters"},
		{"an unknown setting", []string{"serve", "--config", specDir(t, serveSpecs), "--config-file", settings}, "serve.yaml:2:1: unknown setting \"listen-addr\""},
		{"a PostgreSQL DSN that does not parse", []string{"serve", "--config", specDir(t, serveSpecs), "--store", "postgres://u:pw@db:port/greenlight"}, "--store: open postgres store: the DSN does not parse"},
		{"a lease TTL too short", []string{"serve", "--config", specDir(t, serveSpecs), "--lease-ttl", "10ms"}, "--lease-ttl 10ms: want at least 300ms"},
		{"a negative retention", []string{"serve", "--config", specDir(t, serveSpecs), "--retention=-1h"}, "--retention -1h0m0s: want a duration, or 0 to keep every analysis"},
		{"an unknown store", []string{"serve", "--config", specDir(t, serveSpecs), "--store", "mysql://u:pw@db/greenlight"}, "want sqlite:PATH or postgres://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, verdict.ExitInvalid, code, errOut)
			assert.Contains(t, errOut, tc.want)
			assert.NotContains(t, errOut, "pw@", "a DSN's password is never shown")
		})
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestServeSettingsPrecedence: a flag wins over the environment, which wins over the file.
func TestServeSettingsPrecedence(t *testing.T) {
	dataFromFile, dataFromEnv := t.TempDir(), t.TempDir()
	settings := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(settings, []byte("config: "+specDir(t, serveSpecs)+"\ndata: "+dataFromFile+"\nlog-level: debug\n"), 0o600))
	t.Setenv("GREENLIGHT_CONFIG_FILE", settings)
	t.Setenv("GREENLIGHT_DATA", dataFromEnv)
	t.Setenv("GREENLIGHT_LOG_LEVEL", "warn")
	s := startServe(t, "--log-level", "info")
	require.Equal(t, verdict.ExitPass, s.stop(t))
	_, err := os.Stat(filepath.Join(dataFromEnv, "greenlight.db"))
	assert.NoError(t, err, "GREENLIGHT_DATA over the file's data")
	_, err = os.Stat(filepath.Join(dataFromFile, "greenlight.db"))
	assert.Error(t, err)
	assert.Contains(t, s.logs(), "level=INFO msg=serving", "--log-level info over GREENLIGHT_LOG_LEVEL=warn")
}

// TestServeReloadsOnSIGHUP: valid specs replace the old ones; invalid ones are refused with
// their positions and the old ones kept.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	blue := startApp(t, app.Config{})
	dir := specDir(t, serveSpecs)
	s := startServe(t, "--config", dir, "--data", t.TempDir())
	extra := filepath.Join(dir, "extra.yaml")
	require.NoError(t, os.WriteFile(extra, []byte(strings.Replace(serveSpecs[strings.Index(serveSpecs, "apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: long}"):], "{name: long}", "{name: extra}", 1)), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	s.waitLog(t, "greenlight: specs reloaded: 3 analyses, 1 suites")
	body := func(spec string) string {
		return `{"spec": "` + spec + `", "environments": {"blue": "` + blue + `", "green": "` + blue + `"}}`
	}
	var a struct{ ID string }
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", "", body("extra"), &a))

	require.NoError(t, os.WriteFile(extra, []byte("apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: extra}\nbaseline: [\n"), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	refused := s.waitLog(t, "greenlight: reload refused, the specs loaded before are kept")
	assert.Contains(t, refused, "extra.yaml:")
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", "", body("extra"), nil), "the old specs are kept")
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/api/v1/analyses/"+a.ID+"/abort", "", `{"reason": "done"}`, nil))
	assert.Equal(t, verdict.ExitPass, s.stop(t))
}
