package analysis

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
)

// hostSpec probes path on blue and green every 10ms — 200 requests a second to one host when
// both are served there — and never decides within the test.
func hostSpec(t *testing.T, name, path string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ` + name + `}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 10ms, rateLimit: 1000, step: {http: {url: ` + path + `}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 5%}}
policy: {minDuration: 1h, maxDuration: 2h}
`
	opts := specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}
	docs, err := specs.Parse(name+".yaml", []byte(src), opts)
	require.NoError(t, err)
	require.NoError(t, docs.Link(opts))
	return docs.Analyses[0]
}

// TestEngineHostLimitsShared: two analyses on one Engine probe the same host, blue and green
// both served there. Together they never send it more than the Engine's per-host cap allows
// over any span of time (burst + rate × T), though each alone asks for ten times the cap; both
// get probes through. Without a cap, the same two send far more. Fake time: the bound is about
// requests counted at moments, not about how fast the machine is.
func TestEngineHostLimitsShared(t *testing.T) {
	const rate, measure = 20.0, 5 * time.Second
	for _, tc := range []struct {
		name   string
		limits *synthetic.HostLimits
	}{
		{"capped", synthetic.NewHostLimits(rate)},
		{"uncapped", synthetic.NewHostLimits(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				var mu sync.Mutex
				var at []time.Time
				perPath := map[string]int{}
				url := n.Serve(t, "app.test:80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					at = append(at, time.Now())
					perPath[r.URL.Path]++
					mu.Unlock()
				}))
				runner := smoke.NewRunner("greenlight-test", nil)
				runner.DialContext = n.DialContext
				e := NewEngine(EngineOptions{Runner: runner, HostLimits: tc.limits})

				var ids []string
				for i := range 2 {
					a := hostSpec(t, fmt.Sprintf("a%d", i), fmt.Sprintf("/a%d", i))
					p, err := Compile(Options{Analysis: a, Envs: map[string]string{"blue": url, "green": url},
						Tick: 100 * time.Millisecond, DialContext: n.DialContext})
					require.NoError(t, err)
					id, _, err := e.Start(p, StartOptions{})
					require.NoError(t, err)
					ids = append(ids, id)
				}
				// Let the first analysis run for the measured span of fake time, by its own ticks.
				sub, err := e.Subscribe(ids[0], 0)
				require.NoError(t, err)
				for {
					ev, _, err := sub.Next(t.Context())
					require.NoError(t, err)
					if ev.Kind == EventTick && ev.Elapsed >= measure {
						break
					}
				}
				sub.Close()
				for _, id := range ids {
					require.NoError(t, e.Abort(id, "measured"))
				}
				require.NoError(t, e.Shutdown(context.Background()))

				mu.Lock()
				defer mu.Unlock()
				assert.Positive(t, perPath["/a0"], "the first analysis probed")
				assert.Positive(t, perPath["/a1"], "the second analysis probed")
				burst := max(rate, 1)
				worst := 0.0 // the largest excess over burst + rate × T, over every span
				for i := range at {
					for j := i; j < len(at); j++ {
						worst = max(worst, float64(j-i+1)-(burst+rate*at[j].Sub(at[i]).Seconds()))
					}
				}
				if tc.limits.Rate() > 0 {
					assert.LessOrEqual(t, worst, 0.0, "%d requests in all; above the host's cap by %v", len(at), worst)
					assert.Greater(t, len(at), int(rate*measure.Seconds()/2), "the cap lets traffic through")
				} else {
					assert.Greater(t, worst, 0.0, "without a cap the two analyses exceed it: the cap is what bounds them")
				}
			})
		})
	}
}
