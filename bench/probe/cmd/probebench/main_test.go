package main

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/bench/probe/target"
	"github.com/greenlight/greenlight/synthetic"
)

func TestParseProbe(t *testing.T) {
	body, err := os.ReadFile("testdata/blackbox-probe.txt")
	require.NoError(t, err)
	p, err := parseProbe(body)
	require.NoError(t, err)
	assert.True(t, p.success)
	assert.Equal(t, 1155625*time.Nanosecond, p.duration)
	assert.Equal(t, 281696*time.Nanosecond, p.phases["connect"])
	assert.Equal(t, (281696+388640+158662)*time.Nanosecond, p.httpTime(), "connect + tls + processing + transfer")

	_, err = parseProbe([]byte("probe_success 0\n"))
	assert.ErrorContains(t, err, "no probe_duration_seconds")
}

func TestParseRaw(t *testing.T) {
	tests := []struct {
		name, tool, file string
		perSec, p50, p99 float64
	}{
		{"wrk", "wrk", "testdata/wrk.txt", 78887.06, 633, 7840},
		{"hey", "hey", "testdata/hey.txt", 30512.3344, 1400, 11200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := os.ReadFile(tt.file)
			require.NoError(t, err)
			r, err := parseRaw(tt.tool, string(out))
			require.NoError(t, err)
			assert.InDelta(t, tt.perSec, r.PerSec, 1e-6)
			assert.InDelta(t, tt.p50, r.P50Micros, 1e-6)
			assert.InDelta(t, tt.p99, r.P99Micros, 1e-6)
		})
	}
	_, err := parseRaw("wrk", "unable to connect")
	assert.ErrorContains(t, err, "no Requests/sec")
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       time.Duration
		err        string
	}{
		{"plain", "4242 (prometheus-blac) S 1 4242 4242 0 -1 4194560 1538 0 0 0 173 41 0 0 20 0 9 0 1 2 3", 2140 * time.Millisecond, ""},
		{"name with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0", 110 * time.Millisecond, ""},
		{"truncated", "7 (x) R 1 2", 0, "fields"},
		{"no name", "garbage", 0, "no command name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	busy, total, err := parseMachineStat("cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\n")
	require.NoError(t, err)
	assert.Equal(t, 161*clockTick, busy, "user+nice+system+irq+softirq+steal; guest is already in user")
	assert.Equal(t, 981*clockTick, total)

	_, _, err = parseMachineStat("intr 1 2 3\n")
	assert.Error(t, err)
}

func TestDist(t *testing.T) {
	ns := make([]int64, 0, 100)
	for i := 100; i >= 1; i-- {
		ns = append(ns, int64(i)*1000)
	}
	d := distOf(ns)
	assert.Equal(t, dist{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100}, d)
	assert.Equal(t, dist{}, distOf(nil))
	assert.InDelta(t, 2.5, median([]float64{4, 1, 2, 3}), 1e-9)
}

func TestThousands(t *testing.T) {
	tests := map[float64]string{0: "0", 999: "999", 1000: "1,000", 19846.7: "19,847", -1234567: "-1,234,567"}
	for in, want := range tests {
		assert.Equal(t, want, thousands(in), "%v", in)
	}
}

// TestOverheadMatchesEveryRequest runs the engine and the bare client briefly against a real
// target on loopback and checks that each measured request is found in the target's timings.
func TestOverheadMatchesEveryRequest(t *testing.T) {
	h := &target.Server{}
	blue, green := httptest.NewServer(h), httptest.NewServer(h)
	t.Cleanup(blue.Close)
	t.Cleanup(green.Close)
	srv := &target.Client{HTTP: blue.Client(), URL: blue.URL}
	ctx := context.Background()
	s := engineSpec{monitors: 1, every: 20 * time.Millisecond, duration: 300 * time.Millisecond}

	tests := []struct {
		name string
		run  func(delay time.Duration) (*overheadResult, error)
	}{
		{"greenlight", func(d time.Duration) (*overheadResult, error) {
			return newEngine(blue.URL, green.URL, srv).overhead(ctx, s, d)
		}},
		{"bare", func(d time.Duration) (*overheadResult, error) {
			return newBare(blue.URL, green.URL, srv).overhead(ctx, s, d)
		}},
	}
	for _, tt := range tests {
		for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
			t.Run(tt.name+"/"+delay.String(), func(t *testing.T) {
				o, err := tt.run(delay)
				require.NoError(t, err)
				assert.Positive(t, o.Matched)
				assert.Zero(t, o.Unmatched)
				assert.Equal(t, o.PairsChecked, o.PairsFound, "pair latencies are the traced ones")
				assert.GreaterOrEqual(t, o.Server.P50, float64(delay/time.Microsecond), "the delay is inside the server's timing")
			})
		}
	}
}

func TestEngineRunCountsProbes(t *testing.T) {
	h := &target.Server{}
	blue, green := httptest.NewServer(h), httptest.NewServer(h)
	t.Cleanup(blue.Close)
	t.Cleanup(green.Close)
	e := newEngine(blue.URL, green.URL, &target.Client{HTTP: blue.Client(), URL: blue.URL})
	r, err := e.run(context.Background(), engineSpec{monitors: 3, every: 10 * time.Millisecond, jitter: 5 * time.Millisecond,
		duration: 300 * time.Millisecond, path: "/health"})
	require.NoError(t, err)
	assert.Positive(t, r.Probes)
	assert.Zero(t, r.Failed)
	assert.EqualValues(t, r.Latency.N, r.Probes, "every completed probe passed and has a latency")
	assert.Zero(t, r.SkippedRateLimit, "the rate cap is set above the schedule")
	assert.InDelta(t, 600, r.Offered, 1e-9)
}

// TestAAOf: on pairs where the side launched first is 20% faster and the roles are otherwise
// identical, a fixed order shows the 20% as a role bias; a balanced order cancels it.
func TestAAOf(t *testing.T) {
	pair := func(first synthetic.Role, i int) synthetic.Pair {
		fast := time.Duration(1000+i) * time.Microsecond
		slow := fast * 6 / 5
		p := synthetic.Pair{First: first, Baseline: synthetic.Probe{OK: true, Latency: fast}, Candidate: synthetic.Probe{OK: true, Latency: slow}}
		if first == synthetic.Candidate {
			p.Baseline.Latency, p.Candidate.Latency = slow, fast
		}
		return p
	}
	var fixed, balanced []synthetic.Pair
	for i := range 200 {
		fixed = append(fixed, pair(synthetic.Baseline, i))
		balanced = append(balanced, pair([]synthetic.Role{synthetic.Baseline, synthetic.Candidate}[i%2], i/2))
	}

	r, err := aaOf("baseline-first", 1, fixed)
	require.NoError(t, err)
	assert.Equal(t, 200, r.Pairs)
	assert.Equal(t, 200, r.BaselineFirst)
	assert.InDelta(t, 1.2, r.PairRatio, 1e-9)
	assert.InDelta(t, 1.2, r.P50Ratio, 0.01)
	assert.Zero(t, r.BalancedRatio, "one order only: nothing to balance")
	assert.Equal(t, "fail", r.ShiftState, r.Shift)

	r, err = aaOf("random", 1, balanced)
	require.NoError(t, err)
	assert.Equal(t, 100, r.BaselineFirst)
	assert.InDelta(t, 1, r.BalancedRatio, 1e-9)
	assert.InDelta(t, 1.2, r.OrderEffect, 1e-9)
	assert.InDelta(t, 1, r.P50Ratio, 0.01)
	assert.NotEqual(t, "fail", r.ShiftState, r.Shift)
	assert.NotEqual(t, "fail", r.LatencyState, r.Latency)
}

// TestAARunsBothOrders runs the A/A section briefly against two identical targets.
func TestAARunsBothOrders(t *testing.T) {
	h := &target.Server{}
	blue, green := httptest.NewServer(h), httptest.NewServer(h)
	t.Cleanup(blue.Close)
	t.Cleanup(green.Close)
	e := newEngine(blue.URL, green.URL, &target.Client{HTTP: blue.Client(), URL: blue.URL})
	for _, o := range []synthetic.Order{synthetic.OrderRandom, synthetic.OrderBaselineFirst} {
		t.Run(o.String(), func(t *testing.T) {
			r, err := e.aa(context.Background(), engineSpec{monitors: 2, every: 10 * time.Millisecond,
				duration: 300 * time.Millisecond, path: "/health", order: o})
			require.NoError(t, err)
			require.Positive(t, r.Pairs)
			assert.Equal(t, o.String(), r.Order)
			if o == synthetic.OrderBaselineFirst {
				assert.Equal(t, r.Pairs, r.BaselineFirst)
			} else {
				assert.InDelta(t, r.Pairs, 2*r.BaselineFirst, 2*2, "balanced per monitor, to a block")
			}
			assert.Positive(t, r.P50Ratio)
			assert.Positive(t, r.PairRatio)
		})
	}
}
