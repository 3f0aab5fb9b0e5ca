package main

import (
	"context"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// TestDemo runs the demo against real servers, on whatever else the machine is doing, and holds
// README's sample output to what it printed: the same lines in the same order, with the numbers
// (ports, timings, rates, intervals) masked and the periodic status lines left out, since how
// many there are depends on how long the run took.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("real servers for seconds; full run")
	}
	code, out, errOut := cli(t, "demo")
	require.Equal(t, verdict.ExitFail, code, "the regression is rolled back:\n"+out+errOut)
	assert.NotContains(t, out, "testpass", "the demo password is a secret too")
	assert.Equal(t, maskDemo(readmeDemo(t)), maskDemo(out), "README's sample output is not what the demo printed:\n"+out)
}

// TestDemoUnderLoad runs both demos on a busy 2-core machine — as many spinning goroutines as
// twice the cores, in the same process — and asserts the verdicts README promises: the
// regression is rolled back by a check that found it (not by the time limit), and the healthy
// green is promoted. Only verdicts are asserted, never how long they took.
//
// The spinners yield every few microseconds, as Linux lets a task that wakes up preempt a CPU
// hog: the demo's goroutines then wait behind the load the way a process on a busy machine
// waits, instead of for a whole 10ms time slice at each of a request's hand-overs.
func TestDemoUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("real servers under load for a minute or two; full run")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	stop := spin(4)
	defer stop()

	t.Run("regressed", func(t *testing.T) {
		code, out, errOut := cli(t, "demo")
		require.Equal(t, verdict.ExitFail, code, out+errOut)
		assert.Contains(t, out, "✗ ROLLBACK checkout — green (candidate) vs blue (baseline)")
		assert.Regexp(t, `why: (profile-p50|profile-spans-p50|order-errors|journey-errors): `, out, "a check that found the regression decided it")
		assert.NotContains(t, out, "policy onInconclusive", "not the time limit")
	})
	t.Run("healthy", func(t *testing.T) {
		code, out, errOut := cli(t, "demo", "--healthy")
		require.Equal(t, verdict.ExitPass, code, out+errOut)
		assert.Contains(t, out, "✓ PROMOTE checkout — green (candidate) vs blue (baseline)")
		assert.Contains(t, out, "why: all 4 critical checks passed")
	})
}

// spin keeps n goroutines busy until stop is called.
func spin(n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			x := 0
			for ctx.Err() == nil {
				for i := range 20_000 {
					x ^= i
				}
				runtime.Gosched()
			}
			_ = x
		})
	}
	return func() { cancel(); wg.Wait() }
}

// readmeDemo returns README's sample demo output: the code block that starts with "demo: ".
func readmeDemo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, block := range strings.Split(string(b), "```\n")[1:] {
		if strings.HasPrefix(block, "demo: ") {
			return block
		}
	}
	t.Fatal("README.md has no code block starting with \"demo: \"")
	return ""
}

var (
	// demoNumber is a number as the demo prints it: a count, a rate, a ratio, a duration (1m41s,
	// 792µs), a difference in points, with its sign; not the digits of a name (p50, v1).
	demoNumber = regexp.MustCompile(`(^|[^\w-])[+\-×]?[0-9]+(\.[0-9]+)?(µs|ns|ms|h|m|s|pp|%)?([0-9]+(\.[0-9]+)?(µs|ms|m|s))*`)
	// demoStatus is a periodic status line: "[analysis] 10s / 5m0s: …".
	demoStatus = regexp.MustCompile(`^\[analysis\] N / N: `)
	// demoInterval is what an undecided check is sure of so far.
	demoInterval = regexp.MustCompile(`\[[^\]]*\]|≤ N|≥ N`)
)

// maskDemo turns demo output into what does not depend on timing: numbers are N, runs of spaces
// one space (columns widen with their numbers), status lines gone, and an undecided check's
// interval "—" (it shows one once it is sure of something, which depends on how fast the
// probes ran). The console's "undecided" is the state the docs call inconclusive.
func maskDemo(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.ReplaceAll(line, ":PORT", ":0") // README writes the free ports as PORT
		line = demoNumber.ReplaceAllString(line, "${1}N")
		line = strings.Join(strings.Fields(line), " ")
		line = strings.ReplaceAll(line, "undecided", "inconclusive")
		if demoStatus.MatchString(line) {
			continue
		}
		if f := strings.Fields(line); len(f) > 1 && f[1] == "inconclusive" || len(f) > 2 && f[1] == "(advisory)" && f[2] == "inconclusive" {
			line = demoInterval.ReplaceAllString(line, "—")
		}
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
