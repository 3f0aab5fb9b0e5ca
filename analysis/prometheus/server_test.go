package prometheus

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RealPrometheus is a Prometheus server started for a test, scraping the given targets every
// second, each target labelled with its colour.
type RealPrometheus struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	promBinOnce sync.Once
	promBin     string
	promBinErr  error
)

// prometheusBinary finds a Prometheus server: `prometheus` on PATH (.ci/run installs Debian's),
// or else one built from the tools/prometheus module into the user's cache — so the tests also
// run on a machine that has only Go.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	promBinOnce.Do(func() {
		if p, err := exec.LookPath("prometheus"); err == nil {
			promBin = p
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			promBinErr = err
			return
		}
		out := filepath.Join(cache, "greenlight-test", "prometheus")
		if _, err := os.Stat(out); err == nil {
			promBin = out
			return
		}
		t.Logf("no prometheus on PATH: building it from tools/prometheus (several minutes the first time)")
		cmd := exec.Command("go", "build", "-o", out, "github.com/prometheus/prometheus/cmd/prometheus")
		cmd.Dir = filepath.Join("..", "..", "tools", "prometheus")
		if b, err := cmd.CombinedOutput(); err != nil {
			promBinErr = fmt.Errorf("build prometheus: %v\n%s", err, b)
			return
		}
		promBin = out
	})
	require.NoError(t, promBinErr, "a Prometheus server is needed: install Debian's prometheus or let the tools module build one")
	return promBin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// StartPrometheus runs a server scraping targets (colour → host:port) every second.
func StartPrometheus(t *testing.T, targets map[string]string) *RealPrometheus {
	t.Helper()
	bin := prometheusBinary(t)
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: app\n    static_configs:\n")
	for color, addr := range targets {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {color: %q}\n", addr, color)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644))
	addr := freePort(t)
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	p := &RealPrometheus{URL: "http://" + addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus exited at start:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("prometheus did not become ready in 30s")
	return nil
}

// Stop ends the server (a test may stop it mid-analysis).
func (p *RealPrometheus) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// WaitForSamples waits until Prometheus has scraped every target at least twice, so that
// increase() over the window has something to work with.
func (p *RealPrometheus) WaitForSamples(t *testing.T, query string, want int) {
	t.Helper()
	s, err := New(Config{URL: p.URL})
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, _, _, err := s.api.Query(context.Background(), query, time.Now())
		if err == nil && len(strings.Split(strings.TrimSpace(v.String()), "\n")) >= want && v.String() != "" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no samples for %s in 30s", query)
}
