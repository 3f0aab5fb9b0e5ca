package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store"
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
	ids := map[string]bool{}
	for range n {
		v := a.start("", fastOn(blue, green, ""))
		ids[v.ID] = true
	}
	// B starts once A holds their leases: it leaves them to A.
	b := startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner = ttl, "replica-b"
		o.tookOver = func(id string) { took <- takeover{id, time.Now()} }
	}})
	// Every analysis runs on A, none decided: each waits in its smoke gate.
	for id := range ids {
		s, err := a.srv.engine.Get(id)
		require.NoError(t, err, "analysis %s runs on A", id)
		require.Equal(t, verdict.Running, s.State)
		_, err = b.srv.engine.Get(id)
		require.ErrorIs(t, err, analysis.ErrNotFound, "analysis %s does not run on B", id)
	}

	// A dies: its connections to PostgreSQL are gone, then its process.
	crashed := time.Now()
	require.NoError(t, pgA.Close())
	a.stop()

	seen := map[string]time.Duration{}
	for len(seen) < n {
		tk := <-took
		require.True(t, ids[tk.id], "B takes over only A's analyses: %s", tk.id)
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

// TestLostLeaseStopsTheAnalysisHere: A's lease of a running analysis expires while A lives (a
// pause) and B takes it; A learns it at its next renewal and stops the analysis without a
// verdict, writing nothing more; B resumes it once B's lease is its own and decides it, once.
func TestLostLeaseStopsTheAnalysisHere(t *testing.T) {
	ttl := time.Second
	dsn := pgtest.DSN(t)
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	pgA, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	pgB, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	took := make(chan string, 4)
	a := startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) { o.LeaseTTL, o.Owner = ttl, "replica-a" }})
	id := a.start("", fastOn(blue, green, "")).ID
	// B starts once A holds the lease: it leaves the analysis to A.
	b := startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner = ttl, "replica-b"
		o.tookOver = func(id string) { took <- id }
	}})
	_, err = b.srv.engine.Get(id)
	require.ErrorIs(t, err, analysis.ErrNotFound, "B does not run A's analysis")

	// The lease as B's store sees it 2 TTLs from now: A's has expired by then, B takes it.
	ok, err := pgB.AcquireLease(context.Background(), id, "replica-b", ttl, time.Now().Add(2*ttl))
	require.NoError(t, err)
	require.True(t, ok)

	v, err := a.srv.engine.Wait(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, verdict.Interrupted, v.Decision, "A stopped it")
	a.stop()
	assert.Contains(t, a.logs.String(), "lost the lease of an analysis")
	_, err = pgB.Verdict(context.Background(), id)
	require.ErrorIs(t, err, store.ErrNotFound, "A recorded no verdict")
	evs, err := pgB.EventsAfter(context.Background(), id, 0, 0)
	require.NoError(t, err)
	for _, e := range evs {
		assert.NotEqual(t, string(analysis.EventVerdict), e.Kind, "A wrote no verdict event")
	}

	// B's lease of it runs out unrenewed (B's server never took it): B takes it over properly.
	require.Equal(t, id, <-took)
	openGate()
	got := b.waitVerdict("", id)
	assert.Equal(t, "rollback", got.Verdict)
	evs, err = pgB.EventsAfter(context.Background(), id, 0, 0)
	require.NoError(t, err)
	verdicts := 0
	for _, e := range evs {
		if e.Kind == string(analysis.EventVerdict) {
			verdicts++
		}
	}
	assert.Equal(t, 1, verdicts)
}

// TestShutdownHandsOver: a replica that stops gracefully saves its analyses' snapshots and
// releases their leases, so another replica takes them over at its next tick rather than when
// the leases would have expired (in an hour, here), and goes on from the snapshots.
func TestShutdownHandsOver(t *testing.T) {
	dsn := pgtest.DSN(t)
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	pgA, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	pgB, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	a := startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) { o.LeaseTTL, o.Owner = time.Hour, "replica-a" }})
	id := a.start("", fastOn(blue, green, "")).ID
	took := make(chan string, 2)
	b := startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner = time.Second, "replica-b"
		o.tookOver = func(id string) { took <- id }
	}})
	a.stop()
	require.Equal(t, id, <-took)
	openGate()
	assert.Equal(t, "rollback", b.waitVerdict("", id).Verdict)
	evs, err := pgB.EventsAfter(context.Background(), id, 0, 0)
	require.NoError(t, err)
	var resumed []string
	for _, e := range evs {
		if e.Kind == eventResumed {
			resumed = append(resumed, string(e.Data))
		}
	}
	require.Len(t, resumed, 1)
	assert.Contains(t, resumed[0], "resumes from its snapshot")
}

// TestCutOffReplicaStopsItsAnalyses: a replica that cannot reach the database for a whole
// lease stops its analyses, without a verdict: another replica may run them by then.
func TestCutOffReplicaStopsItsAnalyses(t *testing.T) {
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	pgA, err := postgres.Open(context.Background(), pgtest.DSN(t))
	require.NoError(t, err)
	a := startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) { o.LeaseTTL, o.Owner = time.Second, "replica-a" }})
	id := a.start("", fastOn(blue, green, "")).ID
	require.NoError(t, pgA.Close()) // the database is out of reach from here on

	v, err := a.srv.engine.Wait(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, verdict.Interrupted, v.Decision)
	assert.Contains(t, v.Reason, errLeaseLost.Error())
	assert.Contains(t, a.logs.String(), "could not renew the lease of an analysis in time")
}

// TestCutOffReplicaResumesWhenTheDatabaseIsBack: a lone replica cut off from PostgreSQL for
// longer than a lease stops its analyses; once the database is back it takes them over itself,
// from their snapshots, and each is decided exactly once. (It used to find them still in its
// engine and refuse to resume them, at every look, for ever.)
func TestCutOffReplicaResumesWhenTheDatabaseIsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a PostgreSQL server of its own; full run")
	}
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	pg := pgtest.New(t)
	dsn, err := pg.Database(t.Context(), "cutoff")
	require.NoError(t, err)
	st, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	a := startDaemon(t, daemonConfig{store: st, opts: func(o *Options) { o.LeaseTTL, o.Owner = time.Second, "replica-a" }})
	id := a.start("", fastOn(blue, green, "")).ID

	require.NoError(t, pg.Stop())
	// Condition wait, bounded by the test's deadline: the replica has stopped the analysis.
	for !strings.Contains(a.logs.String(), "could not renew the lease of an analysis in time") {
		select {
		case <-t.Context().Done():
			t.Fatal("the replica never stopped its analysis")
		case <-time.After(50 * time.Millisecond):
		}
	}
	require.NoError(t, pg.Start())
	openGate()

	v := a.waitVerdict("", id)
	assert.Equal(t, "rollback", v.Verdict, v.Reason)
	evs, err := st.EventsAfter(context.Background(), id, 0, 0)
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
	assert.Equal(t, 1, verdicts, "exactly one verdict event")
	assert.GreaterOrEqual(t, resumed, 1, "resumed by the same replica")
	assert.NotContains(t, a.logs.String(), "already in the engine")
}
