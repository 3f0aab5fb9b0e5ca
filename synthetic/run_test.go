package synthetic_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunProbesBothEnvironments(t *testing.T) {
	t.Parallel()
	twoSteps := `
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200]
  - name: slow
    http: {url: "/slow?ms=1"}
    expect: [status == 200]
`
	tests := []struct {
		name        string
		suite       string
		blue, green app.Faults
		pairs       int // runs are due at 0, 100, 200, 300 and 400ms; those done by 420ms count
		check       func(t *testing.T, p synthetic.Pair)
	}{
		{
			name:  "healthy",
			suite: healthSuite,
			pairs: 5,
			check: func(t *testing.T, p synthetic.Pair) {
				for _, pr := range []synthetic.Probe{p.Baseline, p.Candidate} {
					assert.True(t, pr.OK, pr.Err)
					assert.Empty(t, pr.Err)
					require.Len(t, pr.Steps, 1)
					assert.Equal(t, 200, pr.Steps[0].StatusCode)
					assert.Equal(t, pr.Steps[0].Latency, pr.Latency)
					assert.Zero(t, pr.Latency, "an app without faults answers at once on the fake clock")
				}
			},
		},
		{
			name:  "candidate slower by the injected latency",
			suite: healthSuite,
			pairs: 4, // the run at 400ms is still waiting for green
			green: app.Faults{Latency: map[string]app.Duration{"/health": app.Duration(50 * time.Millisecond)}},
			check: func(t *testing.T, p synthetic.Pair) {
				assert.True(t, p.Candidate.OK, p.Candidate.Err)
				assert.Equal(t, 50*time.Millisecond, p.Candidate.Latency, "on the fake clock, exactly the latency served")
				assert.True(t, p.Baseline.OK, p.Baseline.Err)
				assert.Zero(t, p.Baseline.Latency, "an app without faults answers at once")
			},
		},
		{
			name:  "candidate failing with injected errors",
			suite: healthSuite,
			pairs: 5,
			green: app.Faults{ErrorRate: map[string]float64{"/health": 1}},
			check: func(t *testing.T, p synthetic.Pair) {
				assert.True(t, p.Baseline.OK, p.Baseline.Err)
				c := p.Candidate
				assert.False(t, c.OK)
				assert.Equal(t, "health: status (500) == 200", c.Err)
				require.Len(t, c.Steps, 1)
				assert.Equal(t, 500, c.Steps[0].StatusCode)
				assert.False(t, c.Steps[0].OK)
				assert.Equal(t, "status (500) == 200", c.Steps[0].Err)
				assert.Equal(t, c.Steps[0].Latency, c.Latency, "a 500 is still a response with a latency")
			},
		},
		{
			name:  "steps skipped after a failure are left out",
			suite: twoSteps,
			pairs: 5,
			green: app.Faults{ErrorRate: map[string]float64{"/health": 1}},
			check: func(t *testing.T, p synthetic.Pair) {
				require.Len(t, p.Baseline.Steps, 2)
				assert.Equal(t, p.Baseline.Steps[0].Latency+p.Baseline.Steps[1].Latency, p.Baseline.Latency)
				assert.Equal(t, time.Millisecond, p.Baseline.Latency, "/slow?ms=1 takes 1ms")
				require.Len(t, p.Candidate.Steps, 1)
				assert.Equal(t, "health", p.Candidate.Steps[0].Name)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				blue, green := startApp(t, n, "blue", tt.blue), startApp(t, n, "green", tt.green)
				mon := synthetic.Monitor{Name: "journey", Suite: parseSuite(t, tt.suite), Every: 100 * time.Millisecond}
				pairs := runFor(t, 420*time.Millisecond, []synthetic.Monitor{mon}, options(n, blue, green))
				require.Len(t, pairs, tt.pairs)
				for i, p := range pairs {
					assert.Equal(t, int64(i+1), p.Seq, "runs are numbered from 1 in order")
					assert.Equal(t, "journey", p.Monitor)
					for _, pr := range []struct {
						probe synthetic.Probe
						env   string
						role  synthetic.Role
					}{{p.Baseline, "blue", synthetic.Baseline}, {p.Candidate, "green", synthetic.Candidate}} {
						assert.Equal(t, pr.env, pr.probe.Env)
						assert.Equal(t, pr.role, pr.probe.Role)
						assert.Equal(t, p.Seq, pr.probe.Seq)
						assert.Equal(t, "journey", pr.probe.Monitor)
						assert.False(t, pr.probe.Start.Before(p.At), "a probe starts once the pair is launched")
					}
					tt.check(t, p)
				}
			})
		})
	}
}

// rendezvous answers a request only once the other environment's request of the same run has
// arrived too, so a probe of one environment passes only if both are in flight together.
type rendezvous struct {
	mu      sync.Mutex
	waiting chan struct{}
}

func (rv *rendezvous) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rv.mu.Lock()
	if ch := rv.waiting; ch != nil {
		rv.waiting = nil
		rv.mu.Unlock()
		close(ch)
		return
	}
	ch := make(chan struct{})
	rv.waiting = ch
	rv.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(5 * time.Second): // on the fake clock: only if the other never comes
		w.WriteHeader(http.StatusGatewayTimeout)
	case <-r.Context().Done():
	}
}

func TestRunProbesConcurrently(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		rv := &rendezvous{}
		blue, green := n.Serve(t, "blue.test:80", rv), n.Serve(t, "green.test:80", rv)
		mon := synthetic.Monitor{Name: "meet", Suite: parseSuite(t, `
steps:
  - name: meet
    http: {url: /meet}
    expect: [status == 200]
`), Every: 100 * time.Millisecond, Jitter: 30 * time.Millisecond}
		pairs := runFor(t, 450*time.Millisecond, []synthetic.Monitor{mon}, options(n, blue, green))
		require.NotEmpty(t, pairs)
		for _, p := range pairs {
			assert.True(t, p.Baseline.OK && p.Candidate.OK, "seq %d: both probes must be in flight together (%q, %q)", p.Seq, p.Baseline.Err, p.Candidate.Err)
		}
	})
}

func TestRunEverySchedule(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue, green := startApp(t, n, "blue", app.Faults{}), startApp(t, n, "green", app.Faults{})
		var stats synthetic.Stats
		opts := options(n, blue, green)
		opts.Stats = &stats
		mon := synthetic.Monitor{Name: "health", Suite: parseSuite(t, healthSuite), Every: 50 * time.Millisecond}
		pairs := runFor(t, time.Second, []synthetic.Monitor{mon}, opts)
		// Runs are due at 0, 50ms, …, 950ms, each done at once on the fake clock; the one due at
		// 1s, as the context ends, may start or not.
		assert.GreaterOrEqual(t, len(pairs), 20)
		assert.LessOrEqual(t, len(pairs), 21)
		for i, p := range pairs[:20] {
			assert.Equal(t, time.Duration(i)*50*time.Millisecond, p.At.Sub(pairs[0].At), "run %d on schedule", i+1)
		}
		st := stats.Monitor("health")
		assert.Equal(t, int64(len(pairs)), st.Completed)
		assert.Equal(t, st.Started, st.Completed+st.Panics+st.Interrupted)
	})
}

func TestRunSeveralMonitorsConcurrently(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		blue, green := startApp(t, n, "blue", app.Faults{}), startApp(t, n, "green", app.Faults{})
		slow := parseSuite(t, `
steps:
  - name: slow
    http: {url: "/slow?ms=200"}
    expect: [status == 200]
`)
		monitors := []synthetic.Monitor{
			{Name: "slow", Suite: slow, Every: 50 * time.Millisecond},
			{Name: "fast", Suite: parseSuite(t, healthSuite), Every: 50 * time.Millisecond},
		}
		pairs := runFor(t, 600*time.Millisecond, monitors, options(n, blue, green))
		byMonitor := map[string]int{}
		for _, p := range pairs {
			byMonitor[p.Monitor]++
		}
		// A slow monitor holds back only itself: the fast one gets runs while the slow one waits.
		assert.Greater(t, byMonitor["fast"], byMonitor["slow"], "%v", byMonitor)
		assert.Positive(t, byMonitor["slow"])
	})
}
