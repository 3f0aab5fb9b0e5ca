package analysis

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
)

// TestEngineStaggersAnalyses: with Stagger, analyses started at the same instant neither
// evaluate nor probe at the same instant: each one's ticks and first probes are put off by its
// own fraction of the tick, drawn from its id. Without it they all start on the tick.
func TestEngineStaggersAnalyses(t *testing.T) {
	for _, stagger := range []bool{false, true} {
		inBubble(t, func(t *testing.T, n *memnet.Network) {
			var mu sync.Mutex
			probes := map[string][]time.Time{} // by host
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				probes[r.Host] = append(probes[r.Host], time.Now())
				mu.Unlock()
			})
			ids := []string{"first", "second", "third"}
			urls := map[string]string{}
			for _, id := range ids {
				urls[id] = n.Serve(t, id+":80", h)
			}
			runner := smoke.NewRunner("test", nil)
			runner.DialContext = n.DialContext
			next := 0
			e := NewEngine(EngineOptions{Runner: runner, Stagger: stagger, NewID: func() string { next++; return ids[next-1] }})
			defer func() { require.NoError(t, e.Shutdown(context.Background())) }()

			t0 := time.Now()
			subs := map[string]*Subscription{}
			for _, id := range ids {
				a := engineSpec(t, id, "minDuration: 1h, maxDuration: 2h")
				a.Monitors[0].RateLimit = 1000
				p, err := Compile(Options{Analysis: a, Envs: map[string]string{"blue": urls[id], "green": urls[id]},
					Tick: time.Second, DialContext: n.DialContext})
				require.NoError(t, err)
				got, _, err := e.Start(p, StartOptions{})
				require.NoError(t, err)
				require.Equal(t, id, got)
				sub, err := e.Subscribe(id, 0)
				require.NoError(t, err)
				subs[id] = sub
			}
			for _, id := range ids {
				var ticks []time.Time
				for len(ticks) < 3 {
					ev, _, err := subs[id].Next(t.Context())
					require.NoError(t, err)
					if ev.Kind == EventTick {
						ticks = append(ticks, ev.Time)
					}
				}
				want := time.Duration(0)
				if stagger {
					want = time.Duration(staggerOf(id) * float64(time.Second))
				}
				for i, at := range ticks {
					assert.Equal(t, want+time.Duration(i+1)*time.Second, at.Sub(t0), "%s: tick %d", id, i+1)
				}
				mu.Lock()
				first := probes[id+":80"][0]
				mu.Unlock()
				assert.Equal(t, want, first.Sub(t0), "%s: first probe", id)
				subs[id].Close()
			}
			for _, id := range ids {
				require.NoError(t, e.Abort(id, "done"))
			}
		})
	}
	assert.NotEqual(t, staggerOf("first"), staggerOf("second"))
}
