package synthetic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadCheckout(t *testing.T) *specs.Analysis {
	t.Helper()
	lookup := func(k string) (string, bool) {
		if k == "SMOKE_PASS" {
			return "testpass", true
		}
		return "", false
	}
	docs, err := specs.Load([]string{"../examples/analyses/checkout.yaml", "../examples/suites"}, specs.LoadOptions{LookupEnv: lookup})
	require.NoError(t, err)
	a := docs.Analysis("checkout")
	require.NotNil(t, a)
	return a
}

func TestMonitorFromSpec(t *testing.T) {
	a := loadCheckout(t)
	require.NotEmpty(t, a.Monitors)
	inline := 0
	for i := range a.Monitors {
		sm := &a.Monitors[i]
		t.Run(sm.Name, func(t *testing.T) {
			m, err := synthetic.MonitorFromSpec(sm)
			require.NoError(t, err)
			assert.Equal(t, sm.Name, m.Name)
			assert.Equal(t, sm.Every.D(), m.Every)
			assert.Equal(t, sm.Cron, m.Cron)
			assert.Equal(t, sm.Jitter.D(), m.Jitter)
			assert.Positive(t, m.RateLimit, "specs applies the default rate cap")
			assert.Equal(t, sm.RateLimit, m.RateLimit)
			assert.Same(t, sm.Resolved, m.Suite)
			if sm.Step != nil {
				inline++
				assert.Equal(t, []string{sm.Name}, m.Suite.StepNames(), "an inline step becomes a one-step suite")
			}
		})
	}
	assert.Positive(t, inline, "the example has a monitor with an inline step")
}

func TestMonitorFromSpecInvalid(t *testing.T) {
	suite := loadCheckout(t).Monitor("health").Resolved
	tests := []struct {
		name string
		m    *specs.Monitor
		want string
	}{
		{"nil", nil, "nil"},
		{"not linked", &specs.Monitor{Name: "x", Every: specs.Duration(time.Second)}, "not resolved"},
		{"neither every nor cron", &specs.Monitor{Name: "x", Resolved: suite}, "exactly one of every and cron"},
		{"both every and cron", &specs.Monitor{Name: "x", Resolved: suite, Every: specs.Duration(time.Second), Cron: "* * * * *"}, "exactly one of every and cron"},
		{"too often", &specs.Monitor{Name: "x", Resolved: suite, Every: specs.Duration(time.Millisecond)}, "too often"},
		{"bad cron", &specs.Monitor{Name: "x", Resolved: suite, Cron: "every minute"}, "invalid cron"},
		{"cron that never fires", &specs.Monitor{Name: "x", Resolved: suite, Cron: "0 0 30 2 *"}, "never fires"},
		{"negative rate", &specs.Monitor{Name: "x", Resolved: suite, Every: specs.Duration(time.Second), RateLimit: -1}, "rateLimit"},
		{"negative jitter", &specs.Monitor{Name: "x", Resolved: suite, Every: specs.Duration(time.Second), Jitter: specs.Duration(-time.Second)}, "jitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := synthetic.MonitorFromSpec(tt.m)
			require.ErrorIs(t, err, synthetic.ErrInvalidMonitor)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRunRejectsInvalidInputBeforeRunning(t *testing.T) {
	blue, green := startCounted(t, nil, "", app.Faults{}), startCounted(t, nil, "", app.Faults{})
	health := parseSuite(t, healthSuite)
	good := synthetic.Monitor{Name: "good", Suite: health, Every: 10 * time.Millisecond}
	elsewhere := parseSuite(t, `
steps:
  - {name: write, env: red, http: {url: /health}}
`)
	tests := []struct {
		name     string
		monitors []synthetic.Monitor
		opts     func(o *synthetic.Options)
		out      chan synthetic.Pair
		wantErr  error
		want     string
	}{
		{"no schedule", []synthetic.Monitor{good, {Name: "bad", Suite: health}}, nil, nil, synthetic.ErrInvalidMonitor, "exactly one of every and cron"},
		{"no suite", []synthetic.Monitor{good, {Name: "bad", Every: time.Second}}, nil, nil, synthetic.ErrInvalidMonitor, "no suite"},
		{"duplicate name", []synthetic.Monitor{good, good}, nil, nil, synthetic.ErrInvalidMonitor, "duplicate"},
		{"step names another environment", []synthetic.Monitor{good, {Name: "bad", Suite: elsewhere, Every: time.Second}}, nil, nil, smoke.ErrUnknownEnvironment, `"red"`},
		{"no runner", []synthetic.Monitor{good}, func(o *synthetic.Options) { o.Runner = nil }, nil, synthetic.ErrInvalidOptions, "no runner"},
		{"same environment twice", []synthetic.Monitor{good}, func(o *synthetic.Options) { o.Candidate.Name = "blue" }, nil, synthetic.ErrInvalidOptions, "both"},
		{"role in the wrong place", []synthetic.Monitor{good}, func(o *synthetic.Options) { o.Baseline.Role = synthetic.Candidate }, nil, synthetic.ErrInvalidOptions, "role"},
		{"no URL", []synthetic.Monitor{good}, func(o *synthetic.Options) { o.Candidate.URL = "" }, nil, synthetic.ErrInvalidOptions, "no URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options(nil, blue.URL, green.URL)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			err := synthetic.Run(context.Background(), tt.monitors, opts, make(chan synthetic.Pair, 1))
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.wantErr), "%v", err)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("no channel", func(t *testing.T) {
		err := synthetic.Run(context.Background(), []synthetic.Monitor{good}, options(nil, blue.URL, green.URL), nil)
		require.ErrorIs(t, err, synthetic.ErrInvalidOptions)
	})
	assert.Zero(t, blue.requests.Load()+green.requests.Load(), "nothing runs when any input is invalid")
}

func TestRunFromSpec(t *testing.T) {
	t.Parallel()
	inBubble(t, testRunFromSpec)
}

func testRunFromSpec(t *testing.T, n *memnet.Network) {
	// The example analysis's monitors, run as the analysis would run them.
	a := loadCheckout(t)
	blue, green := startApp(t, n, "blue", app.Faults{}), startApp(t, n, "green", app.Faults{})
	var monitors []synthetic.Monitor
	for i := range a.Monitors {
		m, err := synthetic.MonitorFromSpec(&a.Monitors[i])
		require.NoError(t, err)
		monitors = append(monitors, m)
	}
	pairs := runFor(t, 450*time.Millisecond, monitors, options(n, blue, green))
	want, seen := map[string]bool{}, map[string]bool{}
	for _, m := range monitors {
		want[m.Name] = true
	}
	for _, p := range pairs {
		seen[p.Monitor] = true
		assert.True(t, p.Baseline.OK, p.Baseline.Err)
		assert.True(t, p.Candidate.OK, p.Candidate.Err)
	}
	assert.Equal(t, want, seen, "every monitor ran")
}
