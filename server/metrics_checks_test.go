package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
)

// gathered returns the values of a metric's series whose labels include want.
func gathered(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) []float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	var out []float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			out = append(out, value(m))
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// one requires exactly one series and returns its value.
func one(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	got := gathered(t, reg, name, want)
	require.Len(t, got, 1, "%s%v", name, want)
	return got[0]
}

// TestCheckMetrics: /metrics shows each analysis's checks — state, the judged effect's
// interval and its limit, samples — and the running ones' elapsed time against their limit;
// a rollback counts by the phase that decided it; the series of decided analyses beyond
// MetricsDecided are removed, the newest kept.
func TestCheckMetrics(t *testing.T) {
	blue, green := serveApps(t, app.Config{Color: "blue"}, app.Config{Color: "green"})
	_, broken := serveApps(t, app.Config{}, brokenSlow)
	d, reg := boardDaemon(t, daemonConfig{opts: func(o *Options) { o.MetricsDecided = 1 }})

	first := d.start("", on("checkout", blue, broken))
	require.Equal(t, "rollback", d.waitVerdict("", first.ID).Verdict)
	ids := map[string]string{"analysis": first.ID, "check": "errors"}
	assert.Equal(t, 1.0, one(t, reg, "greenlight_check_state", with(ids, "state", "fail")))
	assert.Equal(t, 0.0, one(t, reg, "greenlight_check_state", with(ids, "state", "pass")))
	lower := one(t, reg, "greenlight_check_effect", with(ids, "effect", "difference", "bound", "lower"))
	max := one(t, reg, "greenlight_check_limit", with(ids, "effect", "difference", "side", "max"))
	assert.Equal(t, 0.1, max)
	assert.Greater(t, lower, max, "the failing interval lies above its limit")
	assert.Positive(t, one(t, reg, "greenlight_check_samples", with(ids, "side", "candidate")))
	assert.Equal(t, 1.0, one(t, reg, "greenlight_rollbacks_total", map[string]string{"spec": "checkout", "phase": "analysis"}))

	running := d.start("", on("long", blue, green))
	second := d.start("", on("hold", blue, green))
	require.Equal(t, "inconclusive", d.waitVerdict("", second.ID).Verdict)
	assert.Equal(t, 1.0, one(t, reg, "greenlight_check_state", map[string]string{"analysis": second.ID, "check": "errors", "state": "inconclusive"}))
	assert.Empty(t, gathered(t, reg, "greenlight_check_state", map[string]string{"analysis": first.ID}),
		"beyond MetricsDecided, the older decided analysis's series are gone")
	assert.Empty(t, gathered(t, reg, "greenlight_analysis_elapsed_seconds", map[string]string{"analysis": second.ID}), "decided: no elapsed time")

	// The running analysis shows once it has ticked (each tick is committed before it counts).
	events := d.events("/api/v1/analyses/"+running.ID+"/events", "", "")
	for e := events.next(t); e.Event != "tick"; e = events.next(t) {
	}
	assert.Equal(t, 1200.0, one(t, reg, "greenlight_analysis_limit_seconds", map[string]string{"analysis": running.ID, "phase": "analysis"}))
	assert.Len(t, gathered(t, reg, "greenlight_check_state", map[string]string{"analysis": running.ID, "check": "errors"}), 4, "one series per state")
}

// with returns m with more labels.
func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
