package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/postgres"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/verdict"
)

// twoReplicas starts replicas A and B on one new PostgreSQL database; B never takes over A's
// analyses (A holds their leases for an hour). Their event streams send a heartbeat once an
// hour: only a wake-up explains an event they send after their first read.
func twoReplicas(t *testing.T, optsB func(*Options)) (a, b *daemon, pgB *postgres.Store, dsn string) {
	t.Helper()
	dsn = pgtest.DSN(t)
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
	return a, b, pgB, dsn
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
	a, b, pgB, _ := twoReplicas(t, func(o *Options) { o.waiting = func(id string) { waiting <- id } })
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

// commandsOf reads an analysis's commands straight from the database.
func commandsOf(t *testing.T, dsn, id string) []store.Command {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT id, kind, taken_by, done_at, status FROM commands WHERE analysis_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []store.Command
	for rows.Next() {
		var (
			c    store.Command
			done int64
		)
		require.NoError(t, rows.Scan(&c.ID, &c.Kind, &c.TakenBy, &done, &c.Status))
		if done != 0 {
			c.DoneAt = time.Unix(0, done)
		}
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}

// verdictEvents counts an analysis's verdict events.
func verdictEvents(t *testing.T, st store.Store, id string) int {
	t.Helper()
	evs, err := st.EventsAfter(context.Background(), id, 0, 0)
	require.NoError(t, err)
	n := 0
	for _, e := range evs {
		if e.Kind == string(analysis.EventVerdict) {
			n++
		}
	}
	return n
}

// TestCommandsAcrossReplicas: an abort and an override asked of replica B, of analyses replica
// A runs, are carried out by A (B never runs them); B answers what A answered — the same
// status and body as A's verdict — each verdict recorded once and audited with who and why.
// A second abort, of the decided analysis, is answered 409 as A would.
func TestCommandsAcrossReplicas(t *testing.T) {
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	forwarded := make(chan store.Command, 4)
	a, b, pgB, dsn := twoReplicas(t, func(o *Options) { o.forwarded = func(c store.Command) { forwarded <- c } })
	aborted := a.start("", fastOn(blue, green, "")).ID
	overridden := a.start("", fastOn(blue, green, "")).ID

	status, body := b.call("POST", "/api/v1/analyses/"+aborted+"/abort", "", abortRequest{Reason: "bad deploy", By: "ana"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Equal(t, aborted, (<-forwarded).Analysis, "B forwarded it")
	var v verdictView
	require.NoError(t, json.Unmarshal(body, &v))
	assert.True(t, v.Decided)
	assert.Equal(t, verdict.Interrupted, v.State)
	assert.Contains(t, v.Reason, "bad deploy (by ana)")
	_, fromA := a.call("GET", "/api/v1/analyses/"+aborted+"/verdict", "", nil)
	assert.Equal(t, string(fromA), string(body), "B answers A's verdict, byte for byte")

	status, body = b.call("POST", "/api/v1/analyses/"+overridden+"/override", "", overrideRequest{Decision: verdict.Promote, By: "bo", Why: "known flake"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Equal(t, overridden, (<-forwarded).Analysis)
	require.NoError(t, json.Unmarshal(body, &v))
	assert.Equal(t, "promote", v.Verdict)
	require.NotNil(t, v.Override)
	assert.Equal(t, "bo", v.Override.By)
	_, fromA = a.call("GET", "/api/v1/analyses/"+overridden+"/verdict", "", nil)
	assert.Equal(t, string(fromA), string(body))

	for id, action := range map[string]string{aborted: "abort", overridden: "override"} {
		_, err := b.srv.engine.Get(id)
		assert.Error(t, err, "B never ran %s", id)
		assert.Equal(t, 1, verdictEvents(t, pgB, id), "one verdict")
		log, err := pgB.AuditLog(context.Background(), id)
		require.NoError(t, err)
		require.Len(t, log, 1)
		assert.Equal(t, action, log[0].Action)
		assert.Equal(t, "anonymous", log[0].Token)
		cmds := commandsOf(t, dsn, id)
		require.Len(t, cmds, 1)
		assert.Equal(t, "replica-a", cmds[0].TakenBy, "A carried it out")
		assert.Equal(t, http.StatusOK, cmds[0].Status)
	}

	status, body = b.call("POST", "/api/v1/analyses/"+aborted+"/abort", "", abortRequest{Reason: "again"})
	assert.Equal(t, http.StatusConflict, status, "%s", body)
	assert.Contains(t, string(body), "already decided")
}

// TestPendingCommandRunByTheTaker: the replica running an analysis dies; an abort asked of
// replica B meanwhile finds no replica to carry it out in CommandWait, so B answers 202 with
// where to look. Once the dead replica's lease runs out B takes the analysis over and, having
// resumed it, carries out the pending abort: the verdict is the abort's, recorded once.
func TestPendingCommandRunByTheTaker(t *testing.T) {
	blue, green, openGate := gatedApps(t, app.Config{}, failingGreen)
	t.Cleanup(openGate)
	dsn := pgtest.DSN(t)
	pgA, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	pgB, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	a := startDaemon(t, daemonConfig{store: pgA, opts: func(o *Options) { o.LeaseTTL, o.Owner = time.Hour, "replica-a" }})
	id := a.start("", fastOn(blue, green, "")).ID
	took := make(chan string, 2)
	b := startDaemon(t, daemonConfig{store: pgB, opts: func(o *Options) {
		o.LeaseTTL, o.Owner, o.CommandWait = time.Second, "replica-b", time.Millisecond
		o.tookOver = func(id string) { took <- id }
	}})
	// A dies holding the lease for an hour: nobody can carry out a command for now.
	require.NoError(t, pgA.Close())
	a.stop()

	status, body := b.call("POST", "/api/v1/analyses/"+id+"/abort", "", abortRequest{Reason: "bad deploy", By: "ana"})
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var acc accepted
	require.NoError(t, json.Unmarshal(body, &acc))
	assert.Equal(t, id, acc.ID)
	assert.Equal(t, "pending", acc.Status)
	assert.Equal(t, "/api/v1/analyses/"+id+"/verdict", acc.Links["verdict"])
	cmds := commandsOf(t, dsn, id)
	require.Len(t, cmds, 1)
	assert.Empty(t, cmds[0].TakenBy, "pending")

	// A's lease runs out.
	changes, unsubscribe := pgB.Subscribe(t.Context())
	defer unsubscribe()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), `UPDATE leases SET expires = 0 WHERE analysis_id = $1`, id)
	require.NoError(t, err)
	require.NoError(t, conn.Close(context.Background()))
	require.Equal(t, id, <-took)

	v := b.waitVerdict("", id)
	assert.Equal(t, verdict.Interrupted, v.State)
	assert.Contains(t, v.Reason, "bad deploy (by ana)", "the abort decided it")
	assert.Equal(t, 1, verdictEvents(t, pgB, id))
	// The command is done (and audited) a moment after the verdict: the store tells when.
	for cmds = commandsOf(t, dsn, id); cmds[0].DoneAt.IsZero(); cmds = commandsOf(t, dsn, id) {
		for c := range changes {
			if c.Command == cmds[0].ID || c.Resync {
				break
			}
		}
	}
	log, err := pgB.AuditLog(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, "ana", log[0].By)
	assert.Equal(t, "replica-b", cmds[0].TakenBy, "the taker carried it out")
	assert.Equal(t, http.StatusOK, cmds[0].Status)
}

// TestChangesWakeStreamsAndWaits: a change another replica committed wakes the streams of its
// analysis and of all, and the waits for its verdict when it is one; a resync (notifications
// may have been lost) wakes every stream and every wait, which read the store again.
func TestChangesWakeStreamsAndWaits(t *testing.T) {
	s := &Server{decided: map[string]chan struct{}{}, commands: map[int64]chan struct{}{}}
	s.hub.all, s.hub.by = make(chan struct{}), map[string]chan struct{}{}
	s.leases = leases{local: map[string]bool{}, lost: map[string]bool{}}
	changes := make(chan store.Change)
	done := make(chan struct{})
	go func() { s.followChanges(changes); close(done) }()
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	one, other, all := s.hub.wait("an-1"), s.hub.wait("an-2"), s.hub.wait("")
	decided1, decided2 := s.decidedCh("an-1"), s.decidedCh("an-2")
	command := s.commandCh(7)
	changes <- store.Change{Analysis: "an-1", LastEventID: 3, Decided: true}
	changes <- store.Change{Analysis: "an-1", Command: 7}
	changes <- store.Change{Analysis: "an-9"} // received: the ones before are handled
	assert.True(t, closed(one) && closed(all) && closed(decided1) && closed(command))
	assert.False(t, closed(other) || closed(decided2), "another analysis's stream and wait sleep on")

	changes <- store.Change{Resync: true}
	changes <- store.Change{Analysis: "an-9"} // the resync is handled
	assert.True(t, closed(other) && closed(decided2), "a resync wakes them all")
	close(changes)
	<-done
}
