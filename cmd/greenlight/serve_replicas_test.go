package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store/postgres/pgtest"
)

// replicaSpecs: "held" waits in its smoke gate for as long as the gate holds /held, then
// monitors blue and green for 6 to 10 seconds and decides; the daemon's Notifications send
// every analysis's started, smoke_done and decided events to one signed webhook.
const replicaSpecs = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: held}
steps:
  - {name: held, timeout: 1h, http: {url: /held}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: held}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [held]
monitors:
  - {name: probe, every: 500ms, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 6s, maxDuration: 10s}
---
apiVersion: greenlight/v1
kind: Notifications
metadata: {name: daemon}
retry: {minBackoff: 100ms, maxBackoff: 1s, maxAttempts: 1000, maxAge: 1h}
endpoints:
  - name: deploy-bot
    kind: webhook
    url: "${HOOK_URL}"
    secrets: ["${HOOK_SECRET}"]
    timeout: 2s
    allAnalyses: true
    events: [started, smoke_done, decided]
`

// heldApp is an environment whose smoke step (/held) waits until open is called (or the
// client goes away); /health answers at once.
func heldApp(t *testing.T) (url string, open func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	return srv.URL, func() { once.Do(func() { close(gate) }) }
}

// signedHook is a webhook receiver that verifies every signature independently, fails one
// request in five with a 503 (so that deliveries are retried, by whichever replica claims
// them) and keeps the bodies it accepted by webhook-id.
type signedHook struct {
	mu       sync.Mutex
	rng      *rand.Rand
	accepted map[string][][]byte // bodies by webhook-id, each time one was accepted
	badSigs  int
	refused  int
	changed  chan struct{} // closed and replaced when something was accepted
}

func newSignedHook(t *testing.T) (*signedHook, string) {
	h := &signedHook{rng: rand.New(rand.NewPCG(14, 5)), accepted: map[string][][]byte{}, changed: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *signedHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !e2eVerify(r.Header, body) {
		h.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if h.rng.IntN(5) == 0 {
		h.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get("webhook-id")
	h.accepted[id] = append(h.accepted[id], body)
	close(h.changed)
	h.changed = make(chan struct{})
	w.WriteHeader(http.StatusNoContent)
}

// events is what was accepted, as webhook-ids by "type analysis".
func (h *signedHook) events() map[string][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]string{}
	for id, bodies := range h.accepted {
		var p struct {
			Type string
			Data struct{ Analysis struct{ ID string } }
		}
		if json.Unmarshal(bodies[0], &p) == nil {
			k := p.Type + " " + p.Data.Analysis.ID
			out[k] = append(out[k], id)
		}
	}
	return out
}

// waitFor blocks until cond holds over the accepted bodies, or the test's context ends.
func (h *signedHook) waitFor(t *testing.T, what string, cond func(accepted map[string][][]byte) bool) {
	t.Helper()
	waitChanged(t, what, func() (bool, <-chan struct{}) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return cond(h.accepted), h.changed
	})
}

// all waits until the receiver has an event of type typ of every analysis in ids.
func (h *signedHook) all(t *testing.T, typ string, ids map[string]bool) {
	t.Helper()
	h.waitFor(t, typ+" of every analysis", func(accepted map[string][][]byte) bool {
		seen := map[string]bool{}
		for _, bodies := range accepted {
			var p struct {
				Type string
				Data struct{ Analysis struct{ ID string } }
			}
			if json.Unmarshal(bodies[0], &p) == nil && p.Type == typ {
				seen[p.Data.Analysis.ID] = true
			}
		}
		for id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// buildGreenlight builds the real binary for a test.
func buildGreenlight(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "greenlight")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// startReplicas runs n real greenlight serve processes on the PostgreSQL database dsn.
func startReplicas(t *testing.T, bin, dsn, hookURL string, n int) []*liveBinary {
	t.Helper()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--config", specDir(t, replicaSpecs), "--tokens-file", tokensFile(t), "--lease-ttl", "2s"}
	env := []string{"GREENLIGHT_STORE=" + dsn, "HOOK_URL=" + hookURL, "HOOK_SECRET=" + e2eSigningKey}
	var replicas []*liveBinary
	for range n {
		replicas = append(replicas, startLiveBinary(t, bin, args, env))
	}
	return replicas
}

// startHeld starts an analysis of "held" with key on replica r; created is whether this
// start created it (201) rather than finding it (200).
func startHeld(t *testing.T, r *liveBinary, blue, green, key string) (id string, created bool) {
	t.Helper()
	body := fmt.Sprintf(`{"spec": "held", "key": %q, "environments": {"blue": %q, "green": %q}}`, key, blue, green)
	var a struct{ ID string }
	status, ok := r.try("POST", "/api/v1/analyses", serveAdminToken, body, &a)
	require.True(t, ok, "start %s", key)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, "start %s", key)
	return a.ID, status == http.StatusCreated
}

// checkDecidedOnce checks in the database, once the receiver has every decided event, what
// must hold after any fault: ids are every analysis there is, each decided, with one verdict
// row and one verdict event; one started and one decided delivery per analysis; every delivery
// the outbox holds was accepted by the receiver, none given up; and the receiver got one
// webhook-id per event (each one of the outbox), every signature valid, repeats only of the
// same bytes.
func checkDecidedOnce(t *testing.T, dsn string, hook *signedHook, ids map[string]bool) {
	t.Helper()
	ctx := t.Context()
	db, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer db.Close(ctx)
	count := func(query string, args ...any) int {
		var n int
		require.NoError(t, db.QueryRow(ctx, query, args...).Scan(&n), query)
		return n
	}
	assert.Equal(t, len(ids), count(`SELECT COUNT(*) FROM analyses`), "one analysis per key, none lost")
	assert.Zero(t, count(`SELECT COUNT(*) FROM analyses WHERE state = 'running'`), "every analysis decided")
	assert.Equal(t, len(ids), count(`SELECT COUNT(*) FROM verdicts`), "one verdict row per analysis")
	rows, err := db.Query(ctx, `SELECT a.id, COUNT(e.id) FROM analyses a LEFT JOIN events e ON e.analysis_id = a.id AND e.kind = 'verdict' GROUP BY a.id`)
	require.NoError(t, err)
	verdictEvents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id string
		var n int
		err := r.Scan(&id, &n)
		return fmt.Sprintf("%s:%d", id, n), err
	})
	require.NoError(t, err)
	for _, v := range verdictEvents {
		id, n, _ := strings.Cut(v, ":")
		assert.True(t, ids[id], "analysis %s is one the test started", id)
		assert.Equal(t, "1", n, "analysis %s: one verdict event", id)
	}

	// The outbox is complete once the verdicts are. Each delivery reaches the receiver, at
	// least once.
	rows, err = db.Query(ctx, `SELECT event_id, type, analysis_id, state FROM outbox`)
	require.NoError(t, err)
	type delivery struct{ id, typ, analysis, state string }
	outbox, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery, error) {
		var d delivery
		err := r.Scan(&d.id, &d.typ, &d.analysis, &d.state)
		return d, err
	})
	require.NoError(t, err)
	perEvent := map[string]int{}
	inOutbox := map[string]bool{}
	for _, d := range outbox {
		assert.NotEqual(t, "dead", d.state, "delivery %s given up", d.id)
		perEvent[d.typ+" "+d.analysis]++
		inOutbox[d.id] = true
	}
	for id := range ids {
		for _, typ := range []string{"analysis.started", "analysis.decided"} {
			assert.Equal(t, 1, perEvent[typ+" "+id], "one %s delivery of %s", typ, id)
		}
	}
	hook.waitFor(t, "every delivery in the outbox", func(accepted map[string][][]byte) bool {
		for _, d := range outbox {
			if len(accepted[d.id]) == 0 {
				return false
			}
		}
		return true
	})
	events := hook.events()
	for id := range ids {
		for _, typ := range []string{"analysis.started", "analysis.decided"} {
			assert.Len(t, events[typ+" "+id], 1, "one webhook-id for %s of %s", typ, id)
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	assert.Zero(t, hook.badSigs, "every signature verifies")
	for id := range hook.accepted {
		assert.True(t, inOutbox[id], "webhook-id %s is a delivery of the outbox", id)
	}
	assert.Len(t, hook.accepted, len(outbox), "one webhook-id per event")
	repeats := 0
	for id, bodies := range hook.accepted {
		for _, b := range bodies[1:] {
			repeats++
			assert.Equal(t, string(bodies[0]), string(b), "a repeat of %s is the same bytes", id)
		}
	}
	t.Logf("%d deliveries accepted, %d repeats, %d refused with 503 and retried", len(hook.accepted), repeats, hook.refused)
}

// TestReplicasSurviveKill9 runs three real greenlight serve replicas on one PostgreSQL
// database, a signed webhook receiver and apps to judge; it starts 30 analyses spread over the
// replicas — six of them started twice at the same moment, with one idempotency key, on two
// replicas — and kills one replica with SIGKILL while half of them wait in their smoke gate
// and the others monitor. The other two take its analyses over; every analysis is decided,
// exactly once, and every delivery of the outbox reaches the receiver, one webhook-id per
// event. The takeover time is logged.
func TestReplicasSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary and runs three replicas on PostgreSQL; full run")
	}
	bin := buildGreenlight(t)
	dsn := pgtest.DSN(t)
	hook, hookURL := newSignedHook(t)
	heldBlue, openBlue := heldApp(t)
	heldGreen, openGreen := heldApp(t)
	// The flowing analyses pass their smoke gate at once.
	flowBlue, openFlowBlue := heldApp(t)
	flowGreen, openFlowGreen := heldApp(t)
	openFlowBlue()
	openFlowGreen()
	replicas := startReplicas(t, bin, dsn, hookURL, 3)

	ids := map[string]bool{}                     // every analysis
	flowing := map[string]bool{}                 // those past their smoke gate at the kill
	held := map[string]bool{}                    // those in their smoke gate at the kill
	byReplica := make([][]string, len(replicas)) // the analyses each replica created, and so runs
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			blue, green := heldBlue, heldGreen
			if i%2 == 1 {
				blue, green = flowBlue, flowGreen
			}
			id, created := startHeld(t, replicas[i%3], blue, green, fmt.Sprintf("deploy-%d", i))
			mu.Lock()
			defer mu.Unlock()
			assert.True(t, created, "deploy-%d", i)
			ids[id] = true
			if i%2 == 1 {
				flowing[id] = true
			} else {
				held[id] = true
			}
			byReplica[i%3] = append(byReplica[i%3], id)
		})
	}
	// The same key on two replicas at the same moment: one analysis.
	for i := range 6 {
		key, both := fmt.Sprintf("twice-%d", i), make(chan struct{})
		var twice [2]struct {
			id      string
			created bool
		}
		var pair sync.WaitGroup
		for j := range 2 {
			pair.Go(func() {
				<-both
				twice[j].id, twice[j].created = startHeld(t, replicas[(i+j)%3], heldBlue, heldGreen, key)
			})
		}
		close(both)
		pair.Wait()
		assert.Equal(t, twice[0].id, twice[1].id, "%s: one analysis", key)
		assert.NotEqual(t, twice[0].created, twice[1].created, "%s: created by one start, found by the other", key)
		mu.Lock()
		ids[twice[0].id], held[twice[0].id] = true, true
		for j := range 2 {
			if twice[j].created {
				byReplica[(i+j)%3] = append(byReplica[(i+j)%3], twice[j].id)
			}
		}
		mu.Unlock()
	}
	wg.Wait()
	require.Len(t, ids, 30)

	// The flowing analyses monitor; the held ones wait in their smoke gate. Replica 0 dies.
	hook.all(t, "analysis.smoke_done", flowing)
	killed := time.Now()
	replicas[0].kill(t)
	openBlue()
	openGreen()

	hook.all(t, "analysis.decided", ids)
	checkDecidedOnce(t, dsn, hook, ids)

	// Every analysis of the dead replica not decided before the kill was taken over: it has a
	// resumed event, written by the replica that took it — the held ones certainly. How long
	// after the kill is logged, not asserted.
	ctx := t.Context()
	db, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer db.Close(ctx)
	var took []time.Duration
	heldVictims, flowingVictims := 0, 0
	for _, id := range byReplica[0] {
		var decidedAt, resumedAt int64
		require.NoError(t, db.QueryRow(ctx, `SELECT v.at, COALESCE((SELECT MIN(e.time) FROM events e WHERE e.analysis_id = v.analysis_id AND e.kind = 'resumed'), 0)
			FROM verdicts v WHERE v.analysis_id = $1`, id).Scan(&decidedAt, &resumedAt))
		if time.Unix(0, decidedAt).Before(killed) {
			assert.False(t, held[id], "analysis %s was held in its smoke gate until after the kill", id)
			continue
		}
		if held[id] {
			heldVictims++
		} else {
			flowingVictims++
		}
		if assert.NotZero(t, resumedAt, "analysis %s of the dead replica was taken over", id) {
			took = append(took, time.Unix(0, resumedAt).Sub(killed))
		}
	}
	require.NotZero(t, heldVictims, "the dead replica ran held analyses")
	slices.Sort(took)
	if len(took) > 0 {
		t.Logf("takeover after kill -9 (lease TTL 2s): %d analyses (%d in their smoke gate, %d monitoring) resumed on the other replicas %v to %v after the kill",
			len(took), heldVictims, flowingVictims, took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	for i, r := range replicas[1:] {
		status, ok := r.try("GET", "/readyz", "", "", nil)
		assert.True(t, ok)
		assert.Equal(t, http.StatusOK, status, "replica %d ready", i+1)
	}
}

// outage is how long TestReplicasSurvivePostgresOutage keeps PostgreSQL stopped: many times
// the replicas' lease TTL, so that each gives up the analyses it ran.
const outage = 30 * time.Second

// TestReplicasSurvivePostgresOutage runs three real replicas on a PostgreSQL server of the
// test's own and 30 analyses, and stops the server for 30 s while they run (those held in
// their smoke gate until the server is down, which then pass it and monitor). Meanwhile each
// replica stays alive (/healthz 200) but says it is not ready (/readyz 503, naming the store),
// and the API answers what needs the store — a list, a start — with 503. Once the server is
// back every replica is ready again, every analysis is decided exactly once, none was started
// during the outage, and every delivery of the outbox reaches the receiver, one webhook-id per
// event.
func TestReplicasSurvivePostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary, runs three replicas and stops PostgreSQL for 30 s; full run")
	}
	bin := buildGreenlight(t)
	pg := pgtest.New(t)
	dsn, err := pg.Database(t.Context(), "outage")
	require.NoError(t, err)
	hook, hookURL := newSignedHook(t)
	blue, openBlue := heldApp(t)
	green, openGreen := heldApp(t)
	replicas := startReplicas(t, bin, dsn, hookURL, 3)

	ids := map[string]bool{}
	for i := range 30 {
		id, created := startHeld(t, replicas[i%3], blue, green, fmt.Sprintf("deploy-%d", i))
		require.True(t, created)
		ids[id] = true
	}

	// Every analysis is running when the database goes away; then their smoke gate opens.
	require.NoError(t, pg.Stop())
	stopped := time.Now()
	openBlue()
	openGreen()
	meanwhile := func(when string) {
		t.Helper()
		for i, r := range replicas {
			var ready map[string]string
			status, ok := r.try("GET", "/readyz", "", "", &ready)
			require.True(t, ok, "%s: replica %d answers", when, i)
			assert.Equal(t, http.StatusServiceUnavailable, status, "%s: replica %d is not ready", when, i)
			assert.Contains(t, ready["error"], "store: ", "%s: replica %d says why", when, i)
			status, ok = r.try("GET", "/healthz", "", "", nil)
			require.True(t, ok)
			assert.Equal(t, http.StatusOK, status, "%s: replica %d is alive: no restart needed", when, i)
			var apiErr struct{ Error string }
			status, ok = r.try("GET", "/api/v1/analyses", serveReadToken, "", &apiErr)
			require.True(t, ok)
			assert.Equal(t, http.StatusServiceUnavailable, status, "%s: replica %d: the list needs the store", when, i)
			assert.NotEmpty(t, apiErr.Error)
			// A start is refused: nothing is stored (the count after the outage says so).
			body := fmt.Sprintf(`{"spec": "held", "key": "during-%s-%d", "environments": {"blue": %q, "green": %q}}`, strings.ReplaceAll(when, " ", "-"), i, blue, green)
			status, ok = r.try("POST", "/api/v1/analyses", serveAdminToken, body, &apiErr)
			require.True(t, ok)
			assert.Equal(t, http.StatusServiceUnavailable, status, "%s: replica %d: a start needs the store", when, i)
		}
	}
	meanwhile("at once")
	select {
	case <-time.After(outage - time.Since(stopped)):
	case <-t.Context().Done():
		t.Fatal("the test ended during the outage")
	}
	meanwhile("after 30 s")
	require.NoError(t, pg.Start())
	restarted := time.Now()

	hook.all(t, "analysis.decided", ids)
	t.Logf("PostgreSQL stopped for %v: every analysis decided %v after it was back", outage, time.Since(restarted).Round(time.Millisecond))
	checkDecidedOnce(t, dsn, hook, ids)
	for i, r := range replicas {
		status, ok := r.try("GET", "/readyz", "", "", nil)
		require.True(t, ok)
		assert.Equal(t, http.StatusOK, status, "replica %d ready again", i)
		t.Logf("replica %d: %d analyses given up during the outage", i, strings.Count(r.text(), "could not renew the lease of an analysis in time"))
	}
	db, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer db.Close(t.Context())
	var resumed int
	require.NoError(t, db.QueryRow(t.Context(), `SELECT COUNT(DISTINCT analysis_id) FROM events WHERE kind = 'resumed' AND time > $1`, stopped.UnixNano()).Scan(&resumed))
	t.Logf("%d analyses resumed after the outage", resumed)
}
