package synthetic_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsMatchPairs(t *testing.T) {
	t.Parallel()
	inBubble(t, testMetricsMatchPairs)
}

func testMetricsMatchPairs(t *testing.T, n *memnet.Network) {
	blue := startApp(t, n, "blue", app.Faults{Latency: map[string]app.Duration{"/health": app.Duration(3 * time.Millisecond)}})
	green := startApp(t, n, "green", app.Faults{ErrorRate: map[string]float64{"/health": 0.5}})
	reg := prometheus.NewRegistry()
	var stats synthetic.Stats
	opts := options(n, blue, green)
	opts.Metrics = synthetic.NewMetrics(reg)
	opts.Stats = &stats
	monitors := []synthetic.Monitor{
		{Name: "health", Suite: parseSuite(t, healthSuite), Every: 20 * time.Millisecond},
		// Never due during the test: its series exist at zero all the same.
		{Name: "yearly", Suite: parseSuite(t, healthSuite), Cron: "0 0 1 1 *"},
	}
	pairs := runFor(t, 400*time.Millisecond, monitors, opts)
	require.NotEmpty(t, pairs)

	type key struct{ monitor, env, role, result string }
	counts := map[key]int{}
	for _, m := range []string{"health", "yearly"} {
		for _, side := range [][2]string{{"blue", "baseline"}, {"green", "candidate"}} {
			for _, result := range []string{"failure", "success"} {
				counts[key{m, side[0], side[1], result}] = 0
			}
		}
	}
	for _, p := range pairs {
		for _, pr := range []synthetic.Probe{p.Baseline, p.Candidate} {
			result := "failure"
			if pr.OK {
				result = "success"
			}
			counts[key{pr.Monitor, pr.Env, string(pr.Role), result}]++
		}
	}
	var want strings.Builder
	want.WriteString("# HELP greenlight_probe_total Synthetic probes completed, by result (success when every step passed).\n")
	want.WriteString("# TYPE greenlight_probe_total counter\n")
	for _, m := range []string{"health", "yearly"} {
		for _, side := range [][2]string{{"blue", "baseline"}, {"green", "candidate"}} {
			for _, result := range []string{"failure", "success"} {
				fmt.Fprintf(&want, "greenlight_probe_total{environment=%q,monitor=%q,result=%q,role=%q} %d\n",
					side[0], m, result, side[1], counts[key{m, side[0], side[1], result}])
			}
		}
	}
	st := stats.Monitor("health")
	want.WriteString("# HELP greenlight_probe_skipped_total Scheduled runs of a monitor not started, by reason.\n")
	want.WriteString("# TYPE greenlight_probe_skipped_total counter\n")
	fmt.Fprintf(&want, "greenlight_probe_skipped_total{monitor=\"health\",reason=\"hostlimit\"} %d\n", st.SkippedHostLimit)
	fmt.Fprintf(&want, "greenlight_probe_skipped_total{monitor=\"health\",reason=\"overlap\"} %d\n", st.SkippedOverlap)
	fmt.Fprintf(&want, "greenlight_probe_skipped_total{monitor=\"health\",reason=\"ratelimit\"} %d\n", st.SkippedRateLimit)
	want.WriteString("greenlight_probe_skipped_total{monitor=\"yearly\",reason=\"hostlimit\"} 0\n")
	want.WriteString("greenlight_probe_skipped_total{monitor=\"yearly\",reason=\"overlap\"} 0\n")
	want.WriteString("greenlight_probe_skipped_total{monitor=\"yearly\",reason=\"ratelimit\"} 0\n")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want.String()),
		"greenlight_probe_total", "greenlight_probe_skipped_total"))

	// Every probe got a response (a 500 is one), so each is in the histogram.
	histograms, sums := histogramOf(t, reg)
	var latency [2]time.Duration
	for _, p := range pairs {
		latency[0] += p.Baseline.Latency
		latency[1] += p.Candidate.Latency
	}
	assert.Equal(t, map[string]uint64{
		"health/blue/baseline":   uint64(len(pairs)),
		"health/green/candidate": uint64(len(pairs)),
		"yearly/blue/baseline":   0,
		"yearly/green/candidate": 0,
	}, histograms)
	assert.InDelta(t, latency[0].Seconds(), sums["health/blue/baseline"], 1e-9)
	assert.InDelta(t, latency[1].Seconds(), sums["health/green/candidate"], 1e-9)
	assert.Equal(t, time.Duration(len(pairs))*3*time.Millisecond, latency[0], "every blue probe took the 3ms served")
}

func TestMetricsLeaveOutIncompleteProbes(t *testing.T) {
	t.Parallel()
	inBubble(t, testMetricsLeaveOutIncompleteProbes)
}

func testMetricsLeaveOutIncompleteProbes(t *testing.T, n *memnet.Network) {
	// The candidate refuses connections: its probes count as failures but have no latency.
	blue := startApp(t, n, "blue", app.Faults{})
	reg := prometheus.NewRegistry()
	opts := options(n, blue, "http://green.test:80")
	opts.Metrics = synthetic.NewMetrics(reg)
	mon := synthetic.Monitor{Name: "health", Suite: parseSuite(t, healthSuite), Every: 50 * time.Millisecond}
	pairs := runFor(t, 300*time.Millisecond, []synthetic.Monitor{mon}, opts)
	require.NotEmpty(t, pairs)
	for _, p := range pairs {
		assert.False(t, p.Candidate.OK)
		assert.Contains(t, p.Candidate.Err, "connection refused")
		assert.Zero(t, p.Candidate.Latency)
		require.Len(t, p.Candidate.Steps, 1)
		assert.Zero(t, p.Candidate.Steps[0].StatusCode)
	}
	histograms, _ := histogramOf(t, reg)
	assert.Equal(t, map[string]uint64{
		"health/blue/baseline":   uint64(len(pairs)),
		"health/green/candidate": 0,
	}, histograms)
}

// histogramOf gathers greenlight_probe_duration_seconds: sample counts and sums by
// monitor/environment/role.
func histogramOf(t *testing.T, reg *prometheus.Registry) (map[string]uint64, map[string]float64) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	counts, sums := map[string]uint64{}, map[string]float64{}
	for _, f := range families {
		if f.GetName() != "greenlight_probe_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			id := labels["monitor"] + "/" + labels["environment"] + "/" + labels["role"]
			counts[id] = m.GetHistogram().GetSampleCount()
			sums[id] = m.GetHistogram().GetSampleSum()
		}
	}
	return counts, sums
}
