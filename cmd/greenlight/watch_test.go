package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/verdict"
)

// TestWatchCommand: greenlight watch follows a candidate already promoted — no smoke gate, no
// comparison before it — and exits 0 when the watch ends with no regression, 1 at the first
// regression (switch back).
func TestWatchCommand(t *testing.T) {
	for _, tc := range []struct {
		name        string
		greenJitter int
		code        verdict.ExitCode
		decision    verdict.Decision
		reason      string
	}{
		{"healthy candidate", 4, verdict.ExitPass, verdict.Promote, "no regression in 30s of watching"},
		{"regressing candidate", 10, verdict.ExitFail, verdict.Rollback, "regression after promotion: p95"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				blue := serveApp(t, n, "blue.test", app.Config{Faults: jitter(4)})
				green := serveApp(t, n, "green.test", app.Config{Faults: jitter(tc.greenJitter)})
				js := filepath.Join(t.TempDir(), "v.json")
				code, out, errOut := cliOn(t, n, "watch", writeAnalysis(t, fastAnalysis), "--env", "blue="+blue, "--env", "green="+green,
					"--for", "30s", "--report", "json="+js)
				require.Equal(t, tc.code, code, out+errOut)
				assert.NotContains(t, out, "[smoke]", "the candidate serves users: no smoke gate")
				assert.Contains(t, out, "[watch] promoted: watching green for 30s")
				var v verdict.Verdict
				require.NoError(t, json.Unmarshal(readFile(t, js), &v))
				assert.Equal(t, tc.decision, v.Decision)
				assert.Equal(t, verdict.PhaseWatch, v.Phase)
				assert.Contains(t, v.Reason, tc.reason)
				if tc.decision == verdict.Promote {
					assert.Contains(t, v.Reason, "green was promoted before this watch began")
				}
				assert.False(t, v.PromotedAt.IsZero(), "the verdict says when the promote was")
				assert.Nil(t, v.Smoke)
			})
		})
	}
	t.Run("a candidate failing every probe", func(t *testing.T) {
		// The relative checks cannot decide 100% against 0% in 2s; the watch must not confirm
		// the promote of a candidate it never saw work.
		inBubble(t, func(t *testing.T, n *memnet.Network) {
			blue := serveApp(t, n, "blue.test", app.Config{Faults: jitter(4)})
			green := serveApp(t, n, "green.test", app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
			code, out, errOut := cliOn(t, n, "watch", writeAnalysis(t, fastAnalysis), "--env", "blue="+blue, "--env", "green="+green, "--for", "2s")
			require.Equal(t, verdict.ExitFail, code, out+errOut)
			assert.Contains(t, out, "no regression in 2s of watching; but no evidence that green works: errors: green succeeded 0 of")
			assert.Contains(t, out, "never promote without evidence (policy onInconclusive: rollback)")
		})
	})
	t.Run("needs a duration", func(t *testing.T) {
		code, _, errOut := cli(t, "watch", writeAnalysis(t, fastAnalysis), "--env", "blue=http://blue.test", "--env", "green=http://green.test")
		assert.Equal(t, verdict.ExitInvalid, code)
		assert.Contains(t, errOut, "a watch needs a duration: give one (greenlight watch --for 30m) or set policy.watch")
	})
	t.Run("a duration above zero", func(t *testing.T) {
		code, _, errOut := cli(t, "watch", writeAnalysis(t, fastAnalysis), "--for", "0s")
		assert.Equal(t, verdict.ExitInvalid, code)
		assert.Contains(t, errOut, "--for 0s: want a duration above zero")
	})
}

// TestVerifyWritesReportsAtEachTurn: with a watch, the reports and the step summary hold the
// latest state at each turn — "running" once the smoke gate passed, the promote when the watch
// begins — so a job killed during the watch keeps the promote; an interrupt during the watch
// writes them again with the watch interrupted and the promote still visible (exit 5). The step
// summary keeps what the job's earlier steps wrote and holds one section of ours, the latest.
func TestVerifyWritesReportsAtEachTurn(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	require.NoError(t, os.WriteFile(summary, []byte("an earlier step's summary\n"), 0o644))
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue, green := serveApp(t, n, "blue.test", app.Config{Faults: jitter(4)}), serveApp(t, n, "green.test", app.Config{Faults: jitter(4)})
		js, md := filepath.Join(dir, "v.json"), filepath.Join(dir, "v.md")
		ctx, cancel := context.WithCancelCause(context.WithValue(t.Context(), networkKey{}, network(n)))
		defer cancel(nil)
		type result struct {
			code     verdict.ExitCode
			out, err string
		}
		done := make(chan result, 1)
		go func() {
			var out, errb bytes.Buffer
			code := execute(ctx, []string{"verify", writeAnalysis(t, fastAnalysis), "--env", "blue=" + blue, "--env", "green=" + green,
				"--watch", "1h", "--report", "json=" + js, "--report", "markdown=" + md}, &out, &errb)
			done <- result{code, out.String(), errb.String()}
		}()
		read := func() *verdict.Verdict {
			b, err := os.ReadFile(js)
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			require.NoError(t, err)
			var v verdict.Verdict
			require.NoError(t, json.Unmarshal(b, &v))
			return &v
		}
		// The fake clock moves only when every goroutine of the run waits: each step of this
		// loop sees the reports as the run left them at that moment.
		var seen []verdict.Decision
		for i := 0; i < 600; i++ {
			time.Sleep(50 * time.Millisecond)
			v := read()
			if v == nil {
				continue
			}
			if len(seen) == 0 || seen[len(seen)-1] != v.Decision {
				seen = append(seen, v.Decision)
			}
			if v.Decision == verdict.Running {
				assert.Equal(t, verdict.PhaseAnalysis, v.Phase)
				require.NotNil(t, v.Smoke, "the smoke gate's report is written once it passed")
				assert.Contains(t, v.Reason, "the smoke gate passed")
			}
			if v.Decision == verdict.Promote {
				assert.Equal(t, verdict.PhaseAnalysis, v.Phase, "where the promote was decided")
				assert.Contains(t, v.Reason, "watching green for 1h0m0s (not over when this was written)")
				assert.False(t, v.PromotedAt.IsZero())
				break
			}
		}
		require.Equal(t, []verdict.Decision{verdict.Running, verdict.Promote}, seen)
		s := string(readFile(t, summary))
		assert.True(t, strings.HasPrefix(s, "an earlier step's summary\n### ✅ greenlight: promote — fast"), s)
		assert.Equal(t, 1, sections(s), "one section, the latest: %s", s)
		assert.Contains(t, string(readFile(t, md)), "### ✅ greenlight: promote — fast")

		// A minute into the watch, CI cancels the job.
		time.Sleep(time.Minute)
		cancel(errors.New("interrupted by SIGTERM"))
		r := <-done
		require.Equal(t, verdict.ExitInterrupted, r.code, r.out+r.err)
		v := read()
		assert.Equal(t, verdict.Interrupted, v.Decision)
		assert.Equal(t, verdict.PhaseWatch, v.Phase)
		assert.Contains(t, v.Reason, "interrupted by SIGTERM during the watch phase")
		assert.Contains(t, v.Reason, "it had been promoted: both critical checks passed")
		assert.False(t, v.PromotedAt.IsZero(), "the promote stays visible")
		s = string(readFile(t, summary))
		assert.True(t, strings.HasPrefix(s, "an earlier step's summary\n### ⏹️ greenlight: interrupted — fast"), s)
		assert.Equal(t, 1, sections(s), s)
	})
}

// TestRealSignalDuringWatch: SIGTERM to a real greenlight process during the watch (what CI
// cancellation sends) ends it with exit 5 and every report written: the watch interrupted, the
// promote visible.
func TestRealSignalDuringWatch(t *testing.T) {
	g, url := newGate(t)
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	summary := filepath.Join(dir, "summary.md")
	analysis := strings.Replace(holdingAnalysis, "smoke: [smoke]\n", "", 1)
	cmd := exec.Command(exe, "watch", writeAnalysis(t, analysis), "--env", "blue="+url, "--env", "green="+url, "--for", "1h",
		"--report", "json="+filepath.Join(dir, "v.json"), "--report", "junit="+filepath.Join(dir, "v.xml"))
	cmd.Env = append(os.Environ(), "GREENLIGHT_RUN_MAIN=1", "GITHUB_STEP_SUMMARY="+summary)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	<-g.probed // the watch runs: its monitors have probed 100 times
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Equal(t, int(verdict.ExitInterrupted), ee.ExitCode(), "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, errb.String(), "SIGTERM: stopping and writing reports")
	assert.Contains(t, out.String(), "■ INTERRUPTED held")

	var v verdict.Verdict
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(dir, "v.json")), &v))
	assert.Equal(t, verdict.Interrupted, v.Decision)
	assert.Equal(t, verdict.PhaseWatch, v.Phase)
	assert.Contains(t, v.Reason, "interrupted by SIGTERM during the watch phase")
	assert.Contains(t, v.Reason, "it had been promoted: green was promoted before this watch began")
	assert.False(t, v.PromotedAt.IsZero())
	require.Len(t, v.Checks, 1)
	assert.Positive(t, v.Checks[0].Candidate.N, "the checks' last outcomes are reported")
	assert.Contains(t, string(readFile(t, filepath.Join(dir, "v.xml"))), `value="interrupted"`)
	s := string(readFile(t, summary))
	assert.True(t, strings.HasPrefix(s, "### ⏹️ greenlight: interrupted — held"), s)
	assert.Equal(t, 1, sections(s), s)
}

// sections counts the level-3 headings of a Markdown text: one per verdict written.
func sections(md string) int {
	n := 0
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "### ") {
			n++
		}
	}
	return n
}
