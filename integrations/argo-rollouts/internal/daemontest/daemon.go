// Package daemontest runs a real `greenlight serve` for the integration tests: the binary built
// from the main module, on a free loopback port, with its own store and tokens, and loopback
// apps for it to judge. It knows nothing of Argo Rollouts.
package daemontest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Token is the daemon's API token (scope write); ReadToken has scope read, AdminToken admin.
const (
	Token      = "argo-write-token-0123456789abcdef"
	ReadToken  = "board-read-token-0123456789abcdef"
	AdminToken = "oncall-admin-token-0123456789abcd"
)

// Build compiles the main module's cmd/greenlight into dir and returns its path.
func Build(dir string) (string, error) {
	root, err := MainModule()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "greenlight")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/greenlight")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/greenlight: %w\n%s", err, out)
	}
	return bin, nil
}

// MainModule is the folder of the greenlight module: the nearest parent of the working directory
// whose go.mod declares it.
func MainModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/greenlight/greenlight\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no parent folder holds the greenlight module")
		}
		dir = parent
	}
}

// Daemon is a running greenlight serve.
type Daemon struct {
	// URL is where it serves, e.g. http://127.0.0.1:40123.
	URL string

	bin, specs, data, tokens, listen string
	cmd                              *exec.Cmd
	exited                           chan struct{}
	log                              *syncBuffer
}

// Start runs bin serve with the specs in specsDir on a free loopback port; it is stopped when
// the test ends.
func Start(t testing.TB, bin, specsDir string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	d := &Daemon{bin: bin, specs: specsDir, data: filepath.Join(dir, "data"), tokens: filepath.Join(dir, "tokens"), listen: "127.0.0.1:0"}
	tokens := "argo write " + Token + "\nboard read " + ReadToken + "\noncall admin " + AdminToken + "\n"
	if err := os.WriteFile(d.tokens, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	t.Cleanup(func() { d.Stop(t) })
	return d
}

func (d *Daemon) start(t testing.TB) {
	t.Helper()
	d.cmd = exec.Command(d.bin, "serve", "--config", d.specs, "--listen", d.listen, "--data", d.data,
		"--tokens-file", d.tokens, "--log-level", "warn", "--shutdown-timeout", "5s")
	// Only the flags configure it: no GREENLIGHT_* setting of the environment the tests run in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GREENLIGHT_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.log = &syncBuffer{}
	d.cmd.Stdout = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan string, 1)
	d.exited = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.log, line)
			if u, ok := strings.CutPrefix(line, "greenlight: serving on "); ok {
				serving <- u
			}
		}
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	select {
	case d.URL = <-serving:
		d.listen = strings.TrimPrefix(d.URL, "http://") // a restart serves on the same port
	case <-d.exited:
		t.Fatalf("greenlight serve exited before serving:\n%s", d.log)
	}
}

// Stop stops the daemon gracefully (SIGTERM) and waits for it.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	<-d.exited
	if t.Failed() {
		t.Logf("greenlight serve's log:\n%s", d.log)
	}
}

// Restart starts the daemon again on the same address with the same store.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.Stop(t)
	d.start(t)
}

// Log is what the daemon wrote so far.
func (d *Daemon) Log() string { return d.log.String() }

// Verdict is the answer of GET /api/v1/analyses/{id}/verdict.
type Verdict struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
	State   string `json:"state"`
	Decided bool   `json:"decided"`
	Reason  string `json:"reason"`
}

// WaitDecided long-polls the analysis's verdict until it is decided.
func (d *Daemon) WaitDecided(t testing.TB, id string) Verdict {
	t.Helper()
	for {
		var v Verdict
		d.Call(t, "GET", "/api/v1/analyses/"+id+"/verdict?wait=60s", ReadToken, nil, http.StatusOK, &v)
		if v.Decided {
			return v
		}
	}
}

// Abort aborts a running analysis.
func (d *Daemon) Abort(t testing.TB, id, reason string) Verdict {
	t.Helper()
	var v Verdict
	d.Call(t, "POST", "/api/v1/analyses/"+id+"/abort", Token, map[string]string{"reason": reason}, http.StatusOK, &v)
	return v
}

// Analysis is the part of GET /api/v1/analyses/{id} the tests read.
type Analysis struct {
	ID           string            `json:"id"`
	Spec         string            `json:"spec"`
	Key          string            `json:"key"`
	State        string            `json:"state"`
	Verdict      string            `json:"verdict"`
	Labels       map[string]string `json:"labels"`
	Environments map[string]string `json:"environments"`
	Audit        []struct {
		Action string `json:"action"`
		By     string `json:"by"`
		Why    string `json:"why"`
	} `json:"audit"`
}

// Get reads an analysis.
func (d *Daemon) Get(t testing.TB, id string) Analysis {
	t.Helper()
	var a Analysis
	d.Call(t, "GET", "/api/v1/analyses/"+id, ReadToken, nil, http.StatusOK, &a)
	return a
}

// Call makes an API request and decodes its answer, failing the test on another status.
func (d *Daemon) Call(t testing.TB, method, path, token string, body any, wantStatus int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// App serves /health on loopback: 200 when healthy, 500 when not. It is closed when the test
// ends.
func App(t testing.TB, healthy bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !healthy {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"status":"failing"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// ClosedURL is an http URL on loopback where nothing listens.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
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
