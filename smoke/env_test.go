package smoke_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var traceparentRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

func TestRunLabelsRequests(t *testing.T) {
	tests := []struct {
		name       string
		defaults   string
		wantHeader string
		wantValue  string
	}{
		{name: "default synthetic header", wantHeader: "X-Greenlight-Synthetic", wantValue: "1"},
		{
			name:       "custom synthetic header",
			defaults:   "defaults: {synthetic: {header: X-Probe, value: smoke}}\n",
			wantHeader: "X-Probe", wantValue: "smoke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, srv := newRecorder(t, nil)
			suite := parseSuite(t, tt.defaults+`
steps:
  - name: one
    http: {url: /one}
  - name: two
    http:
      url: /two
      # A step cannot unlabel its traffic.
      headers: {`+tt.wantHeader+`: "0", traceparent: "00-bad"}
`)
			runner := smoke.NewRunner(testUserAgent, nil)
			var traceIDs []string
			for run := range 2 {
				res := runner.Run(t.Context(), suite, "green", green(srv.URL))
				require.True(t, res.Passed(), dump(res))
				reqs := rc.requests()[2*run:]
				require.Len(t, reqs, 2)
				spans := map[string]bool{}
				for _, r := range reqs {
					assert.Equal(t, tt.wantValue, r.Header.Get(tt.wantHeader), r.Path)
					if tt.wantHeader != "X-Greenlight-Synthetic" {
						assert.Empty(t, r.Header.Get("X-Greenlight-Synthetic"), "default header sent alongside the custom one")
					}
					assert.Equal(t, testUserAgent, r.Header.Get("User-Agent"))
					m := traceparentRe.FindStringSubmatch(r.Header.Get("Traceparent"))
					require.NotNil(t, m, "traceparent %q is not W3C", r.Header.Get("Traceparent"))
					assert.Equal(t, res.TraceID, m[1], "every step of a run shares the run's trace id")
					spans[m[2]] = true
				}
				assert.Len(t, spans, len(reqs), "each request has its own span id")
				for _, s := range res.Steps {
					assert.Equal(t, res.TraceID, s.TraceID, s.Name)
				}
				traceIDs = append(traceIDs, res.TraceID)
			}
			assert.NotEqual(t, traceIDs[0], traceIDs[1], "two runs share a trace id")
		})
	}
}

func TestRunDefaultUserAgent(t *testing.T) {
	rc, srv := newRecorder(t, nil)
	res := smoke.NewRunner("", nil).Run(t.Context(), parseSuite(t, "steps:\n  - {name: s, http: {url: /}}\n"), "green", green(srv.URL))
	require.True(t, res.Passed(), dump(res))
	assert.Equal(t, "greenlight", rc.requests()[0].Header.Get("User-Agent"))
}

func TestRunStepEnvironment(t *testing.T) {
	blueRec, blue := newRecorder(t, nil)
	greenRec, greenSrv := newRecorder(t, nil)
	suite := parseSuite(t, `
env: green
steps:
  - name: on-green
    http: {url: /from-green}
    expect: ['env.name == "green"']
  - name: on-blue
    env: blue
    http:
      url: /from-blue
      headers: {X-Env: "{{ .env.name }} {{ .env.url }}"}
    expect: ['env.name == "blue"']
`)
	targets := map[string]smoke.Target{
		"blue":  {Name: "blue", URL: blue.URL},
		"green": {Name: "green", URL: greenSrv.URL},
	}
	require.NoError(t, smoke.CheckTargets(suite, targets))
	res := smoke.NewRunner(testUserAgent, nil).Run(t.Context(), suite, "green", targets)
	require.True(t, res.Passed(), dump(res))

	assert.Equal(t, []string{"/from-blue"}, blueRec.paths())
	assert.Equal(t, []string{"/from-green"}, greenRec.paths())
	assert.Equal(t, "blue "+blue.URL, blueRec.requests()[0].Header.Get("X-Env"))
	assert.Equal(t, "green", step(t, res, "on-green").Environment)
	assert.Equal(t, "blue", step(t, res, "on-blue").Environment)
	assert.Equal(t, "green", res.Environment)
	assert.Equal(t, greenSrv.URL, res.URL)
}

func TestCheckTargets(t *testing.T) {
	tests := []struct {
		name    string
		suite   string
		targets []string
		missing string // "" when CheckTargets must pass
	}{
		{
			name:    "all environments given",
			suite:   "env: green\nsteps:\n  - {name: a, env: blue, http: {url: /}}\n",
			targets: []string{"blue", "green"},
		},
		{
			name:    "suite env missing",
			suite:   "env: green\nsteps:\n  - {name: a, http: {url: /}}\n",
			targets: []string{"blue"},
			missing: "green",
		},
		{
			name:    "step env missing",
			suite:   "env: green\nsteps:\n  - {name: a, http: {url: /}}\n  - {name: b, env: blue, http: {url: /}}\n",
			targets: []string{"green"},
			missing: "blue",
		},
		{
			name:    "suite without env",
			suite:   "steps:\n  - {name: a, http: {url: /}}\n",
			targets: []string{"staging"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets := map[string]smoke.Target{}
			for _, n := range tt.targets {
				targets[n] = smoke.Target{Name: n, URL: "http://127.0.0.1:1"}
			}
			err := smoke.CheckTargets(parseSuite(t, tt.suite), targets)
			if tt.missing == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, smoke.ErrUnknownEnvironment)
			for _, want := range []string{`"` + tt.missing + `"`, "test.yaml:", "have: " + strings.Join(tt.targets, ", ")} {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}
