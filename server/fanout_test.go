package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store/postgres"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
)

// twoReplicas starts replicas A and B on one new PostgreSQL database; B never takes over A's
// analyses (A holds their leases for an hour). Their event streams send a heartbeat once an
// hour: only a wake-up explains an event they send after their first read.
func twoReplicas(t *testing.T, optsB func(*Options)) (a, b *daemon, pgB *postgres.Store) {
	t.Helper()
	dsn := pgtest.DSN(t)
	pgA, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	pgB, err = postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	a = startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) {
		o.LeaseTTL, o.Owner, o.Heartbeat = time.Hour, "replica-a", time.Hour
	}})
	b = startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner, o.Heartbeat = time.Hour, "replica-b", time.Hour
		if optsB != nil {
			optsB(o)
		}
	}})
	return a, b, pgB
}

type answer struct {
	status int
	body   []byte
	err    error
}

// callAsync makes a request in the background (no test assertion off the test's goroutine).
func (d *daemon) callAsync(method, path string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(d.t.Context(), method, d.url+path, nil)
		if err != nil {
			out <- answer{err: err}
			return
		}
		resp, err := d.client.Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- answer{status: resp.StatusCode, body: body, err: err}
	}()
	return out
}

// TestReplicaFollowsAnotherReplicasAnalysis: an analysis runs on replica A; replica B's event
// streams (of the analysis, and of all analyses) send its events as A commits them, in order
// and every one, though B writes nothing and its heartbeat is an hour away: PostgreSQL told B.
// A verdict long-poll on B waits for the verdict A records, and answers it.
func TestReplicaFollowsAnotherReplicasAnalysis(t *testing.T) {
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	waiting := make(chan string, 1)
	a, b, pgB := twoReplicas(t, func(o *Options) { o.waiting = func(id string) { waiting <- id } })
	id := a.start("", fastOn(blue, green, "")).ID

	one := b.events("/api/v1/analyses/"+id+"/events", "", "")
	all := b.events("/api/v1/events", "", "")
	poll := b.callAsync("GET", "/api/v1/analyses/"+id+"/verdict?wait=60s")
	select {
	case got := <-waiting:
		require.Equal(t, id, got)
	case ans := <-poll:
		t.Fatalf("the long-poll on B answered without waiting: %d %s %v", ans.status, ans.body, ans.err)
	}
	openGate() // the analysis goes on, on A only

	evs := one.untilVerdict(t)
	stored, err := pgB.EventsAfter(context.Background(), id, 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, len(stored), "every event, once")
	for i, e := range evs {
		assert.Equal(t, strconv.Itoa(i+1), e.ID, "in sequence, without gaps")
		assert.Equal(t, stored[i].Kind, e.Event)
	}
	assert.Equal(t, "rollback", string(evs[len(evs)-1].Data.Verdict.Decision))

	global := all.untilVerdict(t)
	require.Len(t, global, len(stored))
	for i, e := range global {
		assert.Equal(t, strconv.FormatInt(stored[i].ID, 10), e.ID, "in the store's order")
		assert.Equal(t, id, e.Data.Analysis)
	}
	assert.Empty(t, one.comments, "no heartbeat came")

	ans := <-poll
	require.NoError(t, ans.err)
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	var v verdictView
	require.NoError(t, json.Unmarshal(ans.body, &v))
	assert.True(t, v.Decided, "B answered the verdict A recorded: %s", ans.body)
	assert.Equal(t, "rollback", v.Verdict)
	_, err = b.srv.engine.Get(id)
	assert.Error(t, err, "B never ran it")
}
