package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
)

// testSpecs: "fast" decides within seconds (a failing smoke gate decides at once); "long"
// cannot decide before ten minutes, so it stays running while a test aborts, overrides or
// restarts it. Environments have no URLs: each request gives them.
const testSpecs = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: fast}
environments:
  blue: {}
  green: {headers: {Authorization: "Bearer ${GREEN_TOKEN}"}}
baseline: blue
candidate: green
smoke: [smoke]
monitors:
  - name: probe
    every: 10ms
    rateLimit: 1000
    step: {http: {url: /health}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
  - {name: p95, latency: {from: probe, percentile: 95, maxRatio: 1.2}}
policy: {minDuration: 1s, maxDuration: 30s}
notify: [ops]
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: long}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - name: probe
    every: 200ms
    step: {http: {url: /health}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 10m, maxDuration: 20m}
`

// greenToken is the secret the fast analysis sends green: it must never reach the store or
// an API response.
const greenToken = "gr33n-s3cret-t0ken-value"

// Tokens of the tests, one per scope.
const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
	adminToken = "admin-token-0123456789"
)

func loadTestSpecs(t *testing.T) *specs.Documents {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "specs.yaml"), []byte(testSpecs), 0o600))
	docs, err := specsLoad(dir)
	require.NoError(t, err)
	return docs
}

func testTokens(t *testing.T) *Tokens {
	t.Helper()
	tokens, err := ParseTokens(strings.NewReader("reader read "+readToken+"\nci write "+writeToken+"\noncall admin "+adminToken+"\n"), "tokens")
	require.NoError(t, err)
	return tokens
}

// daemon is a server with its store, served for a test.
type daemon struct {
	t      *testing.T
	srv    *Server
	store  store.Store
	url    string
	client *http.Client
	logs   *syncBuffer
	stop   func()
}

type daemonConfig struct {
	dbPath string
	// store, when set, is the store instead of a SQLite file at dbPath (closed by stop).
	store  store.Store
	tokens *Tokens
	net    *memnet.Network // nil: loopback
	opts   func(*Options)
	// handler, when set, wraps the API's handler (on loopback).
	handler func(http.Handler) http.Handler
}

// startDaemon opens the store, resumes and serves. Stop it with d.stop (also a cleanup).
func startDaemon(t *testing.T, cfg daemonConfig) *daemon {
	t.Helper()
	if cfg.dbPath == "" {
		cfg.dbPath = filepath.Join(t.TempDir(), "greenlight.db")
	}
	var st store.Store = cfg.store
	if st == nil {
		var err error
		st, err = sqlite.Open(context.Background(), cfg.dbPath)
		require.NoError(t, err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rcv, err := traces.NewReceiver(traces.Config{}, logger)
	require.NoError(t, err)
	runner := smoke.NewRunner("greenlight-test", logger)
	o := Options{Store: st, Specs: loadTestSpecs(t), Tokens: cfg.tokens, Traces: rcv, Logger: logger,
		Engine: analysis.EngineOptions{Runner: runner, Traces: rcv, TracesAddr: "127.0.0.1:0"}}
	if cfg.net != nil {
		runner.DialContext = cfg.net.DialContext
		o.Plan = func(ao *analysis.Options) { ao.DialContext, ao.Listen = cfg.net.DialContext, cfg.net.Listen }
	}
	if cfg.opts != nil {
		cfg.opts(&o)
	}
	srv, err := New(o)
	require.NoError(t, err)
	require.NoError(t, srv.Resume(context.Background()))
	d := &daemon{t: t, srv: srv, store: st, logs: logs}
	var closeHTTP func()
	if cfg.net != nil {
		d.url = cfg.net.Serve(t, "greenlight.test:80", srv.Handler())
		d.client = cfg.net.Client()
		closeHTTP = func() {}
	} else {
		handler := srv.Handler()
		if cfg.handler != nil {
			handler = cfg.handler(handler)
		}
		hs := httptest.NewServer(handler)
		d.url, d.client = hs.URL, hs.Client()
		closeHTTP = hs.Close
	}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			require.NoError(t, srv.Shutdown(context.Background()))
			closeHTTP()
			runner.CloseIdle()
			require.NoError(t, st.Close())
		})
	}
	t.Cleanup(d.stop)
	return d
}

// serveApps serves two example apps on loopback.
func serveApps(t *testing.T, blue, green app.Config) (string, string) {
	t.Helper()
	start := func(cfg app.Config) string {
		srv, err := app.Start(t.Context(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { srv.Close() })
		return srv.URL
	}
	return start(blue), start(green)
}

// call makes a request with a token ("" for none) and returns the status and body.
func (d *daemon) call(method, path, token string, body any) (int, []byte) {
	d.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(d.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, d.url+path, rd)
	require.NoError(d.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return resp.StatusCode, data
}

// callJSON makes a request, requires the status and decodes the body into out (when not nil).
func (d *daemon) callJSON(method, path, token string, body any, want int, out any) {
	d.t.Helper()
	status, data := d.call(method, path, token, body)
	require.Equal(d.t, want, status, "%s %s: %s", method, path, data)
	if out != nil {
		require.NoError(d.t, json.Unmarshal(data, out), "%s", data)
	}
}

func (d *daemon) start(token string, req startRequest) analysisView {
	d.t.Helper()
	var v analysisView
	status, data := d.call("POST", "/api/v1/analyses", token, req)
	require.Contains(d.t, []int{http.StatusCreated, http.StatusOK}, status, "%s", data)
	require.NoError(d.t, json.Unmarshal(data, &v))
	return v
}

// waitVerdict long-polls the verdict until it is decided.
func (d *daemon) waitVerdict(token, id string) verdictView {
	d.t.Helper()
	for {
		var v verdictView
		d.callJSON("GET", "/api/v1/analyses/"+id+"/verdict?wait=30s", token, nil, http.StatusOK, &v)
		if v.Decided {
			return v
		}
		require.Equal(d.t, "running", v.Verdict)
	}
}

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct {
	ID, Event string
	Data      eventBody
}

// sseReader reads server-sent events from a response.
type sseReader struct {
	resp     *http.Response
	sc       *bufio.Scanner
	comments []string
}

func (d *daemon) events(path, token, lastID string) *sseReader {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", d.url+path, nil)
	require.NoError(d.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode)
	require.Equal(d.t, "text/event-stream", resp.Header.Get("Content-Type"))
	d.t.Cleanup(func() { resp.Body.Close() })
	return &sseReader{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event (comments are kept aside).
func (r *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	var e sseEvent
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "" && e.Event != "":
			return e
		case strings.HasPrefix(line, ":"):
			r.comments = append(r.comments, line)
		case strings.HasPrefix(line, "id: "):
			e.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			e.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e.Data))
		}
	}
	t.Fatalf("event stream ended: %v", r.sc.Err())
	return e
}

// untilVerdict reads events until the verdict event, returning them all.
func (r *sseReader) untilVerdict(t *testing.T) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		e := r.next(t)
		out = append(out, e)
		if e.Event == "verdict" {
			return out
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failingGreen is an app whose /health always fails: the smoke gate rolls it back at once,
// whatever the load on the machine.
var failingGreen = app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}}

// fastOn is a start request for the fast analysis.
func fastOn(blue, green, key string) startRequest {
	return startRequest{Spec: "fast", Key: key, Environments: map[string]string{"blue": blue, "green": green}, Labels: map[string]string{"team": "pay"}}
}

func longOn(blue, green string) startRequest {
	return startRequest{Spec: "long", Environments: map[string]string{"blue": blue, "green": green}}
}

// specsLoad loads the specs in dir, with greenToken as GREEN_TOKEN.
func specsLoad(dir string) (*specs.Documents, error) {
	return specs.Load([]string{dir}, specs.LoadOptions{LookupEnv: func(k string) (string, bool) {
		if k == "GREEN_TOKEN" {
			return greenToken, true
		}
		return "", false
	}})
}
