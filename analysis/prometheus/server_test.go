package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/testserver"
)

// RealPrometheus is a Prometheus server started for a test, scraping the given targets every
// second, each target labelled with its colour.
type RealPrometheus struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPrometheus runs a server scraping targets (colour → host:port) every second.
func StartPrometheus(t *testing.T, targets map[string]string) *RealPrometheus {
	t.Helper()
	bin := testserver.Binary(t, "prometheus", "github.com/prometheus/prometheus/cmd/prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: app\n    static_configs:\n")
	for color, addr := range targets {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {color: %q}\n", addr, color)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644))
	addr := testserver.FreeAddr(t)
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

// WaitFor polls an instant query whose answer is one sample until ok accepts its value. It
// waits on a condition, not for a length of time: scrapes come every second, later on a loaded
// machine; only a server that never gets there fails the test, after a minute.
func (p *RealPrometheus) WaitFor(t *testing.T, query string, ok func(float64) bool) {
	t.Helper()
	s, err := New(Config{URL: p.URL})
	require.NoError(t, err)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	last := "no answer"
	for {
		v, _, _, err := s.api.Query(context.Background(), query, time.Now())
		if vec, isVec := v.(model.Vector); err == nil && isVec && len(vec) == 1 {
			if ok(float64(vec[0].Value)) {
				return
			}
			last = vec[0].Value.String()
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: still %s after a minute", query, last)
		}
	}
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
