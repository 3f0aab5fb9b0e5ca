package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store/postgres"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/verdict"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// gatedApps serves two example apps on loopback behind proxies that hold every request until
// open is called: analyses started on them stay in their smoke gate until then.
func gatedApps(t *testing.T, blueCfg, greenCfg app.Config) (blue, green string, open func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	serve := func(cfg app.Config) string {
		srv, err := app.Start(t.Context(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { srv.Close() })
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		proxy := httputil.NewSingleHostReverseProxy(u)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-gate:
				proxy.ServeHTTP(w, r)
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(hs.Close)
		return hs.URL
	}
	blue, green = serve(blueCfg), serve(greenCfg)
	return blue, green, func() { once.Do(func() { close(gate) }) }
}

// TestReplicaTakeover runs two replicas on one PostgreSQL database. Analyses started on A are
// held in their smoke gate; A then dies without a word (its connections drop, it renews and
// releases nothing); B takes each of them over once its lease expires, resumes it, and it is
// decided exactly once, by B (a rollback: green fails its smoke gate). The takeover times are logged, not asserted.
func TestReplicaTakeover(t *testing.T) {
	const n = 5
	ttl := time.Second
	dsn := pgtest.DSN(t)
	// Green fails its smoke gate once the gate opens: the analyses decide at once, on B.
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)

	pgA, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	pgB, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)

	type takeover struct {
		id string
		at time.Time
	}
	took := make(chan takeover, 2*n)
	a := startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) { o.LeaseTTL, o.Owner = ttl, "replica-a" }})
	b := startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner = ttl, "replica-b"
		o.tookOver = func(id string) { took <- takeover{id, time.Now()} }
	}})

	ids := map[string]bool{}
	for range n {
		v := a.start("", fastOn(blue, green, ""))
		ids[v.ID] = true
	}
	// Every analysis is running, none decided: each waits in its smoke gate. Each runs on A,
	// unless B's scan took it over between A storing it and taking its lease (then A left it).
	onA := map[string]bool{}
	for id := range ids {
		if _, err := b.srv.engine.Get(id); err == nil {
			t.Logf("analysis %s was taken by B as A started it", id)
			continue
		}
		s, err := a.srv.engine.Get(id)
		require.NoError(t, err, "analysis %s runs on A", id)
		require.Equal(t, verdict.Running, s.State)
		onA[id] = true
	}

	// A dies: its connections to PostgreSQL are gone, then its process.
	crashed := time.Now()
	require.NoError(t, pgA.Close())
	a.stop()

	seen := map[string]time.Duration{}
	for len(seen) < len(onA) {
		tk := <-took
		require.True(t, ids[tk.id], "B takes over only A's analyses: %s", tk.id)
		if !onA[tk.id] {
			continue // the one B took as A started it
		}
		require.NotContains(t, seen, tk.id, "taken over once")
		seen[tk.id] = tk.at.Sub(crashed)
	}
	var slowest time.Duration
	for id, d := range seen {
		slowest = max(slowest, d)
		t.Logf("analysis %s taken over by B %v after A died (lease TTL %v)", id, d.Round(time.Millisecond), ttl)
	}
	t.Logf("takeover of %d analyses: %v after A died", len(seen), slowest.Round(time.Millisecond))
	openGate()

	for id := range ids {
		v := b.waitVerdict("", id)
		assert.Equal(t, "rollback", v.Verdict, "analysis %s: %s", id, v.Reason)
		evs, err := pgB.EventsAfter(context.Background(), id, 0, 0)
		require.NoError(t, err)
		var verdicts, resumed int
		for _, e := range evs {
			switch e.Kind {
			case string(analysis.EventVerdict):
				verdicts++
			case eventResumed:
				resumed++
			}
		}
		assert.Equal(t, 1, verdicts, "analysis %s: exactly one verdict event", id)
		assert.Equal(t, 1, resumed, "analysis %s: resumed once, by B", id)
		_, err = pgB.Verdict(context.Background(), id)
		assert.NoError(t, err)
	}
	counts, err := pgB.CountAnalyses(context.Background())
	require.NoError(t, err)
	var decided int
	for state, c := range counts {
		if state != verdict.Running {
			decided += c
		}
	}
	assert.Equal(t, n, decided, "every analysis decided, none lost")
	expired, err := pgB.ExpiredLeases(context.Background(), time.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, expired)
}
