package specs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnalysisExampleLoads(t *testing.T) {
	docs, err := Load([]string{"../examples/analyses/checkout.yaml", "../examples/suites"}, LoadOptions{LookupEnv: envOf("SMOKE_PASS", "testpass")})
	require.NoError(t, err)
	require.Len(t, docs.Analyses, 1)
	a := docs.Analyses[0]
	assert.Equal(t, "blue", a.Baseline)
	require.Len(t, a.SmokeSuites, 1)
	assert.Equal(t, "checkout-smoke", a.SmokeSuites[0].Metadata.Name)
	m := a.Monitor("health")
	require.NotNil(t, m)
	require.NotNil(t, m.Resolved, "an inline step becomes a one-step suite")
	assert.Equal(t, []string{"health"}, m.Resolved.StepNames())
	assert.Equal(t, DefaultStepTimeout, m.Resolved.Steps[0].Timeout.D(), "defaults apply to inline steps")
	assert.Equal(t, float64(DefaultRateLimit), m.RateLimit)
	j := a.Monitor("journey")
	require.NotNil(t, j)
	assert.Equal(t, "checkout-journey", j.Resolved.Metadata.Name)
	assert.Equal(t, 60.0, j.RateLimit)
	assert.Equal(t, 20*time.Second, a.Policy.MinDuration.D())
	assert.Equal(t, 0.01, a.Policy.FalseRollbackRate.F())
	assert.Equal(t, 0.01, a.Checks[0].ErrorRate.MaxIncrease.F())
	assert.False(t, a.Checks[5].IsCritical())
	assert.False(t, a.Checks[4].IsCritical(), "trace shape is advisory by default")
	assert.True(t, a.Checks[0].IsCritical())
}

func TestAnalysisErrors(t *testing.T) {
	head := "apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: a}\n"
	cases := []struct {
		name, body string
		want       []string
	}{
		{"roles", `environments: {blue: {url: "http://b"}}
baseline: blue
candidate: gren
checks: [{name: c, errorRate: {from: m, maxIncrease: 1%}}]
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
`, []string{`6:12: candidate "gren" is not one of the environments (blue)`}},
		{"bad url and percent", `environments: {blue: {url: "ftp://b"}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
checks: [{name: c, errorRate: {from: m, maxIncrease: "1"}}]
`, []string{`4:22: environment blue: url "ftp://b" is not an http(s) URL`, `8:54: "1": write a percentage such as 1% or 0.5%`}},
		{"monitor and check references", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 1s, cron: "* * * * *", step: {http: {url: /}}}
  - {name: n, cron: "61 * * * *", suite: nowhere}
checks:
  - {name: c, latency: {from: x, percentile: 100, maxRatio: 1.2}}
  - {name: d, errorRate: {from: m}}
  - {name: e}
`, []string{
			`8:5: monitor "m": give exactly one of every and cron`,
			`9:5: monitor "n": invalid cron "61 * * * *": end of range (61) above maximum (59): 61`,
			`11:5: check "c": from "x" is not a monitor (m, n)`,
			`11:5: check "c": percentile must be between 0 and 100 (e.g. 95 or 99.9), got 100`,
			`12:5: check "d": errorRate needs maxIncrease, maxRatio or max`,
			`13:5: check "e": give exactly one of errorRate, latency, shift, traceShape, values`,
		}},
		// What a check can read comes from the registries: every source key a kind has, and a
		// monitor only for the kinds that take one.
		{"what a check reads", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
sources: {jaeger: {url: "http://j:16686", service: s, values: {v1: blue}}}
checks:
  - {name: a, errorRate: {from: m, jaeger: {operation: x}, maxRatio: 2}}
  - {name: b, values: {criterion: "<=+10%"}}
  - {name: c, latency: {percentile: 95, maxRatio: 1.2}}
  - {name: d, values: {criterion: "<=+10%", prometheus: {query: "up"}}}
  - {name: e, errorRate: {maxRatio: 2}, shift: {from: m, maxProbability: 0.6}}
`, []string{
			`10:5: check "a": read exactly one of a monitor (from), datadog, jaeger, prometheus, traces`,
			`11:5: check "b": values needs one of datadog, prometheus`,
			`12:5: check "c": from is required (a monitor name), or read one of jaeger, prometheus, traces`,
			`13:5: check "d" reads prometheus: declare sources.prometheus`,
			`14:5: check "e": give exactly one of errorRate, latency, shift, traceShape, values`,
		}},
		{"no checks", `environments: {blue: {}, green: {}}
baseline: blue
candidate: blue
checks: []
policy: {minDuration: 5m, maxDuration: 1m, onInconclusive: maybe}
`, []string{
			`6:12: baseline and candidate are both "blue": compare two environments`,
			`7:9: analysis "a" has no checks: nothing could justify a promote`,
			`8:9: policy: minDuration (5m0s) is longer than maxDuration (1m0s)`,
			`8:9: policy: onInconclusive must be rollback, promote or hold, got "maybe"`,
		}},
		// One cause, one error: a values check given a monitor says why, and nothing else.
		{"values check given a monitor", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
checks:
  - {name: errs, errorRate: {from: m, maxIncrease: 1%}}
  - {name: cpu, values: {from: m, criterion: "<=+10%"}}
  - {name: shape, traceShape: {step: s}}
`, []string{
			`10:26: from: a values check reads a series from prometheus or datadog, not a monitor's probes (for those use errorRate, latency or shift)`,
			`11:5: check "shape" reads traces: declare sources.traces`,
			`11:32: step: a traceShape check reads the received traces (sources.traces), not a monitor's probes`,
		}},
		// One cause, one error: a misspelled field is unknown, not also missing.
		{"misspelled kind and schedule", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, evry: 1s, stp: {http: {url: /}}}]
checks:
  - {name: e, errorrate: {from: m, maxIncrease: 1%}}
  - {name: f, errorRate: {from: m, maxIncrease: 1%}}
`, []string{
			`7:22: unknown field "evry" (did you mean "every"?)`,
			`7:32: unknown field "stp" (did you mean "step"?)`,
			`9:15: unknown field "errorrate" (did you mean "errorRate"?)`,
		}},
		{"every check advisory", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors: [{name: m, every: 1s, step: {http: {url: /}}}]
checks:
  - {name: c, critical: false, errorRate: {from: m, maxIncrease: 1%}}
`, []string{
			`9:3: analysis "a" has no critical check: advisory checks never decide, so nothing could justify a promote (make one check critical: true)`,
		}},
		{"no critical check sees success", `environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources: {prometheus: {url: "http://prom:9090"}}
checks:
  - {name: p95, latency: {prometheus: {buckets: 'sum by (le) (rate(h_bucket[{{ .window }}]))'}, percentile: 95, maxRatio: 1.2}}
  - {name: errs, critical: false, errorRate: {prometheus: {errors: 'sum(increase(e[{{ .window }}]))', total: 'sum(increase(t[{{ .window }}]))'}, maxRatio: 2}}
policy: {evidence: {minSuccesses: -1}}
`, []string{
			`9:3: analysis "a": no critical check can see green succeed (latency histograms, value series and trace shapes show traffic, not success), so a promote would rest on no evidence that it works; add a critical errorRate check, or a check from a monitor or from traces (or set policy.evidence.minSuccesses: 0 to accept traffic alone)`,
			`11:9: policy: evidence.minSuccesses must be 0 or more, got -1`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(head+tc.body), LoadOptions{LookupEnv: noEnv})
			require.Error(t, err)
			var got []string
			for _, e := range err.(Errors) {
				got = append(got, strings.TrimPrefix(e.Error(), "a.yaml:"))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestEvidenceFloorDefaults: the floor is on unless a spec turns it off, and turning it off
// lets an analysis without a success-seeing check load.
func TestEvidenceFloorDefaults(t *testing.T) {
	head := "apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: a}\nenvironments: {blue: {}, green: {}}\nbaseline: blue\ncandidate: green\n" +
		"sources: {prometheus: {url: \"http://prom:9090\"}}\n" +
		"checks: [{name: p95, latency: {prometheus: {buckets: 'sum by (le) (rate(h_bucket[{{ .window }}]))'}, percentile: 95, maxRatio: 1.2}}]\n"
	docs, err := Parse("a.yaml", []byte(head+"policy: {evidence: {minSuccesses: 0, maxErrorRate: 100%}}\n"), LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err)
	ev := docs.Analyses[0].Policy.Evidence
	assert.Equal(t, int64(0), ev.MinOK())
	assert.Equal(t, 1.0, ev.MaxErrors())
	assert.Equal(t, int64(DefaultMinSuccesses), Evidence{}.MinOK())
	assert.Equal(t, DefaultMaxErrorRate, Evidence{}.MaxErrors())
}

func TestAnalysisLinkErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "suite.yaml", strings.Replace(minimal, "%s", "s1", 1))
	p := write(t, dir, "a.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [missing, ./suite.yaml]
monitors: [{name: m, every: 1s, suite: ./suite.yaml}]
checks: [{name: c, latency: {from: m, step: nope, percentile: 95, maxRatio: 1.2}}]
`)
	docs, err := Load([]string{p}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, p+`:7:9: no suite named "missing" among the loaded files (none loaded); give its file too, or a path`)
	assert.Contains(t, msg, p+`:9:10: check "c": monitor "m" has no step "nope" (steps: health)`)
	require.Len(t, docs.Analyses, 1)
	assert.Len(t, docs.Analyses[0].SmokeSuites, 1, "the path reference resolved")
	assert.Equal(t, filepath.Join(dir, "suite.yaml"), docs.Analyses[0].Monitor("m").Resolved.File)
}
