package jaeger

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/testserver"
)

// RealJaeger is a Jaeger v2 all-in-one (memory storage) started for a test.
type RealJaeger struct {
	QueryURL string // api_v3 lives under it
	OTLPURL  string // OTLP/HTTP traces endpoint, …/v1/traces
	cmd      *exec.Cmd
	done     chan struct{}
}

// StartJaeger runs testdata/jaeger.yaml on free loopback ports and waits until the query API
// answers.
func StartJaeger(t *testing.T) *RealJaeger {
	t.Helper()
	bin := testserver.Binary(t, "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger")
	cfg, err := filepath.Abs(filepath.Join("testdata", "jaeger.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	queryAddr, otlpAddr := testserver.FreeAddr(t), testserver.FreeAddr(t)
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(),
		"JAEGER_QUERY_HTTP="+queryAddr,
		"JAEGER_QUERY_GRPC="+testserver.FreeAddr(t),
		"JAEGER_OTLP_HTTP="+otlpAddr)
	logPath := filepath.Join(dir, "jaeger.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	j := &RealJaeger{QueryURL: "http://" + queryAddr, OTLPURL: "http://" + otlpAddr + "/v1/traces",
		cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(j.done) }()
	t.Cleanup(j.Stop)

	ready := func(url string, ok func(int) bool) bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return ok(resp.StatusCode)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// The OTLP receiver answers a GET with 405 once it listens.
		if ready(j.QueryURL+"/api/v3/services", func(c int) bool { return c == http.StatusOK }) &&
			ready(j.OTLPURL, func(c int) bool { return c != 0 }) {
			return j
		}
		select {
		case <-j.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("jaeger exited at start:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("jaeger did not become ready in 30s:\n%s", b)
	return nil
}

// Stop ends the server.
func (j *RealJaeger) Stop() {
	if j.cmd.Process != nil {
		_ = j.cmd.Process.Kill()
	}
	<-j.done
}
