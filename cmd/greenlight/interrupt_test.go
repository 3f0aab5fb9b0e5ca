package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/verdict"
)

// TestMain lets a test run this package's binary as greenlight itself (GREENLIGHT_RUN_MAIN=1),
// so that real signals reach the real main; the PostgreSQL server a test may start is stopped
// at the end.
func TestMain(m *testing.M) {
	if os.Getenv("GREENLIGHT_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(pgtest.Main(m))
}

// gate is an environment whose smoke endpoint holds each request until the client goes away,
// and reports its first arrival; /health answers at once.
type gate struct {
	arrived chan struct{}
	once    sync.Once
	probes  atomic.Int64
	probed  chan struct{} // closed at the 100th probe
}

func newGate(t *testing.T) (*gate, string) {
	g := &gate{arrived: make(chan struct{}), probed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.once.Do(func() { close(g.arrived) })
			<-r.Context().Done()
			return
		}
		if g.probes.Add(1) == 100 {
			close(g.probed)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return g, srv.URL
}

const holdingAnalysis = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - {name: hold, timeout: 1h, http: {url: /hold}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: held}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [smoke]
monitors:
  - {name: probe, every: 10ms, rateLimit: 1000, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 1h, maxDuration: 2h}
`

// TestInterruptedIsNotARollback: a signal during the smoke gate or the analysis ends the run
// with "interrupted" (exit 5), never a rollback blamed on the candidate, and every report is
// written with what was known.
func TestInterruptedIsNotARollback(t *testing.T) {
	for _, tc := range []struct {
		name, phase string
		analysis    string
	}{
		{"during the smoke gate", "smoke", holdingAnalysis},
		{"during the analysis", "analysis", strings.Replace(holdingAnalysis, "smoke: [smoke]\n", "", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, url := newGate(t)
			dir := t.TempDir()
			summary := filepath.Join(dir, "summary.md")
			t.Setenv("GITHUB_STEP_SUMMARY", summary)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			go func() {
				wait := g.arrived
				if tc.phase == "analysis" {
					wait = g.probed
				}
				select {
				case <-wait:
					cancel(errors.New("interrupted by SIGTERM"))
				case <-ctx.Done():
				}
			}()
			var out, errb bytes.Buffer
			code := execute(ctx, []string{"verify", writeAnalysis(t, tc.analysis), "--env", "blue=" + url, "--env", "green=" + url,
				"--report", "json=" + filepath.Join(dir, "v.json"), "--report", "junit=" + filepath.Join(dir, "v.xml"),
				"--report", "markdown=" + filepath.Join(dir, "v.md")}, &out, &errb)
			assert.Equal(t, verdict.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			assert.Contains(t, out.String(), "■ INTERRUPTED held")
			assert.NotContains(t, out.String(), "ROLLBACK")
			assert.Contains(t, out.String(), "interrupted by SIGTERM during the "+tc.phase+" phase")
			assert.Contains(t, out.String(), "nothing was decided about green")

			var v verdict.Verdict
			b, err := os.ReadFile(filepath.Join(dir, "v.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &v))
			assert.Equal(t, verdict.Interrupted, v.Decision)
			assert.Equal(t, verdict.Phase(tc.phase), v.Phase)
			if tc.phase == "smoke" {
				require.NotNil(t, v.Smoke, "the smoke steps that ran are reported")
			} else {
				require.Len(t, v.Checks, 1, "the checks' last outcomes are reported")
				assert.Positive(t, v.Checks[0].Candidate.N)
			}
			for _, f := range []string{"v.xml", "v.md", "summary.md"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err, f)
				assert.Contains(t, string(b), "interrupted", f)
			}
		})
	}
}

func TestSmokeInterrupted(t *testing.T) {
	g, url := newGate(t)
	suite := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(suite, []byte(strings.SplitN(holdingAnalysis, "---", 2)[0]), 0o644))
	report := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case <-g.arrived:
			cancel(errors.New("interrupted by SIGINT"))
		case <-ctx.Done():
		}
	}()
	var out, errb bytes.Buffer
	code := execute(ctx, []string{"smoke", suite, "--target", url, "--report", "json=" + report}, &out, &errb)
	assert.Equal(t, verdict.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, out.String(), "INTERRUPTED")
	assert.Contains(t, errb.String(), "interrupted by SIGINT before every step ran")
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"interrupted": true`)
}

// TestInterruptsWatch: the first signal cancels the run with its name as the cause; a second, a
// signal while specs load, or a run that does not end within the grace period exits at once.
func TestInterruptsWatch(t *testing.T) {
	type result struct {
		cause error
		exits []verdict.ExitCode
	}
	drive := func(t *testing.T, loading bool, grace time.Duration, sigs ...os.Signal) result {
		t.Helper()
		ctx, cancel := context.WithCancelCause(context.Background())
		var mu sync.Mutex
		var res result
		exited := make(chan struct{}, 4)
		in := newInterrupts(cancel, &bytes.Buffer{}, func(c verdict.ExitCode) {
			mu.Lock()
			res.exits = append(res.exits, c)
			mu.Unlock()
			exited <- struct{}{}
		})
		in.grace = grace
		if loading {
			in.loading.Add(1)
		}
		ch := make(chan os.Signal)
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() { in.watch(ch, done); close(finished) }()
		for _, s := range sigs {
			ch <- s
		}
		if loading || len(sigs) > 1 || grace > 0 && grace < time.Hour {
			<-exited
		}
		close(done)
		<-finished
		res.cause = context.Cause(ctx)
		mu.Lock()
		defer mu.Unlock()
		return res
	}
	t.Run("first signal cancels", func(t *testing.T) {
		r := drive(t, false, time.Hour, syscall.SIGTERM)
		assert.EqualError(t, r.cause, "interrupted by SIGTERM")
		assert.Empty(t, r.exits)
	})
	t.Run("second signal exits", func(t *testing.T) {
		r := drive(t, false, time.Hour, os.Interrupt, os.Interrupt)
		assert.EqualError(t, r.cause, "interrupted by SIGINT")
		assert.Equal(t, []verdict.ExitCode{verdict.ExitInterrupted}, r.exits)
	})
	t.Run("while loading exits", func(t *testing.T) {
		r := drive(t, true, time.Hour, os.Interrupt)
		assert.Equal(t, []verdict.ExitCode{verdict.ExitInterrupted}, r.exits)
	})
	t.Run("grace period", func(t *testing.T) {
		r := drive(t, false, time.Millisecond, syscall.SIGTERM)
		assert.Equal(t, []verdict.ExitCode{verdict.ExitInterrupted}, r.exits)
	})
}

// TestRealSignal sends SIGINT to a real greenlight process during the smoke gate.
func TestRealSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process; in the full run")
	}
	g, url := newGate(t)
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "verify", writeAnalysis(t, holdingAnalysis), "--env", "blue="+url, "--env", "green="+url,
		"--report", "json="+filepath.Join(dir, "v.json"))
	cmd.Env = append(os.Environ(), "GREENLIGHT_RUN_MAIN=1", "GITHUB_STEP_SUMMARY=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	<-g.arrived
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Equal(t, int(verdict.ExitInterrupted), ee.ExitCode(), "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, errb.String(), "SIGINT: stopping and writing reports")
	b, err := os.ReadFile(filepath.Join(dir, "v.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"verdict": "interrupted"`)
}

// TestPanicIsInternalError: a panic inside a command is exit 4 with a clear message, never Go's
// crash with exit 2 (which reads as "inconclusive").
func TestPanicIsInternalError(t *testing.T) {
	root := &cobra.Command{Use: "greenlight", SilenceErrors: true, SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error { panic("boom") }}
	root.SetArgs(nil)
	var errb bytes.Buffer
	code := executeRoot(context.Background(), root, &errb)
	assert.Equal(t, verdict.ExitInternal, code)
	assert.Contains(t, errb.String(), "greenlight: internal error: boom")
	assert.Contains(t, errb.String(), "This is a bug in greenlight")
}

// TestReportDestinationsCheckedFirst: an unwritable --report path is invalid input before
// anything runs, not an error after a ten-minute analysis.
func TestReportDestinationsCheckedFirst(t *testing.T) {
	g, url := newGate(t)
	dir := t.TempDir()
	cases := map[string][]string{
		"missing folder": {"--report", "junit=" + filepath.Join(dir, "nope", "v.xml")},
		"a folder":       {"--report", "json=" + dir},
	}
	for name, flags := range cases {
		t.Run(name, func(t *testing.T) {
			for _, cmd := range [][]string{
				append([]string{"verify", writeAnalysis(t, holdingAnalysis), "--env", "blue=" + url, "--env", "green=" + url}, flags...),
				append([]string{"smoke", writeAnalysis(t, holdingAnalysis), "--target", url}, flags...),
			} {
				code, _, stderr := cli(t, cmd...)
				assert.Equal(t, verdict.ExitInvalid, code, stderr)
				assert.Contains(t, stderr, "cannot be written")
			}
		})
	}
	t.Run("step summary", func(t *testing.T) {
		t.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(dir, "nope", "summary.md"))
		code, _, stderr := cli(t, "smoke", writeAnalysis(t, holdingAnalysis), "--target", url)
		assert.Equal(t, verdict.ExitInvalid, code, stderr)
		assert.Contains(t, stderr, "GITHUB_STEP_SUMMARY=")
	})
	select {
	case <-g.arrived:
		t.Fatal("a request reached the environment: the run started before its reports were checked")
	default:
	}
	assert.Zero(t, g.probes.Load())
	_, err := os.Stat(filepath.Join(dir, "v.xml"))
	assert.True(t, os.IsNotExist(err))
}

func TestDestinationCheckLeavesNoFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "new.xml")
	require.NoError(t, checkDestinations(map[string]string{"junit": f}))
	_, err := os.Stat(f)
	assert.True(t, os.IsNotExist(err), "the check removes what it created")
}

// TestWorkerPanicIsInternalError: a panic on a worker goroutine reaches the command's own
// goroutine and becomes exit 4 like any other.
func TestWorkerPanicIsInternalError(t *testing.T) {
	root := &cobra.Command{Use: "greenlight", SilenceErrors: true, SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			var crash panicked
			var wg sync.WaitGroup
			wg.Go(func() {
				defer crash.catch()
				panic("worker boom")
			})
			wg.Wait()
			crash.rethrow()
			return nil
		}}
	root.SetArgs(nil)
	var errb bytes.Buffer
	assert.Equal(t, verdict.ExitInternal, executeRoot(context.Background(), root, &errb))
	assert.Contains(t, errb.String(), "greenlight: internal error: worker boom")
}
