package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/testserver"
)

// runMainEnv makes the test binary run main(): the Lambda runtime interface emulator runs it
// as the function's bootstrap, so the emulator runs the real main with the real handler.
const runMainEnv = "GREENLIGHT_AWS_HOOK_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// emulated is the function running in the AWS Lambda Runtime Interface Emulator
// (github.com/aws/aws-lambda-runtime-interface-emulator), built once into the user's cache
// from tools/aws-lambda-rie.
type emulated struct {
	t    *testing.T
	url  string
	logs *lockedBuffer
}

// startFunction runs the function in the emulator with env as its environment (on top of a
// clean one: no AWS settings of the machine's leak in).
func startFunction(t *testing.T, env map[string]string) *emulated {
	t.Helper()
	rie := testserver.Binary(t, "aws-lambda-rie", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	self, err := os.Executable()
	require.NoError(t, err)
	addr, api := testserver.FreeAddr(t), testserver.FreeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, self)
	dir := t.TempDir()
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, runMainEnv + "=1",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_NAME=CodeDeployHook_greenlight",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group: the emulator and the function it started end together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", logs.String())
		}
	})
	// The emulator says nothing once it listens: connect until it accepts, or it exits.
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("the emulator exited:\n%s", logs.String())
		case <-t.Context().Done():
			t.Fatal("the emulator never listened")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return &emulated{t: t, url: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: logs}
}

// invoke posts an event to the emulator's invocation API and decodes the function's answer.
func (f *emulated) invoke(event, answer any) {
	f.t.Helper()
	b, err := json.Marshal(event)
	require.NoError(f.t, err)
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(b))
	require.NoError(f.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	require.Equal(f.t, http.StatusOK, resp.StatusCode, "%s", body)
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fnErr) == nil && fnErr.ErrorMessage != "" {
		f.t.Fatalf("the function failed: %s", body)
	}
	require.NoError(f.t, json.Unmarshal(body, answer), "%s", body)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
