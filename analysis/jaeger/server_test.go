package jaeger

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RealJaeger is a Jaeger v2 all-in-one (memory storage) started for a test.
type RealJaeger struct {
	QueryURL string // api_v3 lives under it
	OTLPURL  string // OTLP/HTTP traces endpoint, …/v1/traces
	cmd      *exec.Cmd
	done     chan struct{}
}

var (
	jaegerBinOnce sync.Once
	jaegerBin     string
	jaegerBinErr  error
)

// jaegerBinary finds a Jaeger v2: `jaeger` on PATH, or one built from the tools/jaeger module
// into the user's cache — so the tests also run on a machine that has only Go.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	jaegerBinOnce.Do(func() {
		if p, err := exec.LookPath("jaeger"); err == nil {
			jaegerBin = p
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			jaegerBinErr = err
			return
		}
		out := filepath.Join(cache, "greenlight-test", "jaeger")
		if _, err := os.Stat(out); err == nil {
			jaegerBin = out
			return
		}
		t.Logf("no jaeger on PATH: building it from tools/jaeger (several minutes the first time)")
		cmd := exec.Command("go", "build", "-o", out, "github.com/jaegertracing/jaeger/cmd/jaeger")
		cmd.Dir = filepath.Join("..", "..", "tools", "jaeger")
		if b, err := cmd.CombinedOutput(); err != nil {
			jaegerBinErr = fmt.Errorf("build jaeger: %v\n%s", err, b)
			return
		}
		jaegerBin = out
	})
	require.NoError(t, jaegerBinErr, "a Jaeger v2 is needed: put jaeger on PATH or let the tools module build one")
	return jaegerBin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// StartJaeger runs testdata/jaeger.yaml on free loopback ports and waits until the query API
// answers.
func StartJaeger(t *testing.T) *RealJaeger {
	t.Helper()
	bin := jaegerBinary(t)
	cfg, err := filepath.Abs(filepath.Join("testdata", "jaeger.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	queryAddr, otlpAddr := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(),
		"JAEGER_QUERY_HTTP="+queryAddr,
		"JAEGER_QUERY_GRPC="+freePort(t),
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
