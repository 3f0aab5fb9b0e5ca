// Package storetest is the one test table every store backend must pass unchanged: the SQLite
// store runs it against a file, the PostgreSQL store against a real server.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// Run runs the table; open returns a new, empty store for each subtest (closed by Run).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"analyses read back", testAnalysesReadBack},
		{"an idempotency key yields one analysis", testIdempotencyKey},
		{"an idempotency key yields one analysis under concurrent starts", testIdempotencyKeyConcurrent},
		{"an id is never stored twice", testDuplicateID},
		{"list filters and pages", testList},
		{"phase and counts", testPhaseAndCounts},
		{"events in order, per analysis and globally", testEvents},
		{"events keep only the newest", testEventRetention},
		{"an event sequence number is unique", testEventDuplicate},
		{"events of one kind thinned", testThinEvents},
		{"the latest snapshot wins", testSnapshots},
		{"exactly one verdict per analysis", testOneVerdict},
		{"exactly one verdict under concurrent records", testOneVerdictConcurrent},
		{"a verdict's transaction is all or nothing", testVerdictAtomic},
		{"an override revises the verdict with its audit entry", testRevise},
		{"the audit log", testAudit},
		{"the outbox claims, retries and delivers", testOutbox},
		{"senders claiming at once never share a delivery", testClaimConcurrent},
		{"a start's deliveries are enqueued with the analysis, once", testStartDeliveries},
		{"events' deliveries are enqueued with the events", testEventDeliveries},
		{"deliveries listed, filtered, paged and counted", testListDeliveries},
		{"the outbox drives verdict/emit's dispatcher", testEmitOutbox},
		{"leases are taken, renewed, expire and are taken over", testLeases},
		{"replicas taking a lease at once: one gets it", testLeaseRace},
		{"a start takes its lease with the analysis", testLeaseWithTheStart},
		{"decided analyses pruned, audit entries kept", testPrune},
		{"replicas pruning at once delete each analysis once", testPruneConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.f(t, s)
		})
	}
}

// RunDurable writes through one store, closes it, opens the same database again with open and
// checks that everything reads back: what a restart of the daemon relies on.
func RunDurable(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := open()
	a := analysis("dur-1", "checkout", "rollout-7f9c", map[string]string{"team": "pay"})
	_, _, err := s.CreateAnalysis(ctx, a)
	require.NoError(t, err)
	running := analysis("dur-2", "checkout", "", nil)
	_, _, err = s.CreateAnalysis(ctx, running)
	require.NoError(t, err)
	require.NoError(t, s.SetPhase(ctx, running.ID, verdict.PhaseAnalysis, t0.Add(time.Second)))
	evs := events(running.ID, 1, 3)
	require.NoError(t, s.AppendEvents(ctx, evs, 0))
	require.NoError(t, s.PutSnapshot(ctx, store.Snapshot{Analysis: running.ID, Data: []byte{0, 1, 2, 255}, At: t0.Add(2 * time.Second)}))
	v := store.Verdict{Analysis: a.ID, Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0.Add(time.Minute)}
	require.NoError(t, s.RecordVerdict(ctx, v, events(a.ID, 1, 1), []store.Delivery{delivery("evt-dur-1")}))
	audit := store.AuditEntry{Analysis: a.ID, Action: "override", Decision: verdict.Promote, By: "ana", Token: "oncall", Why: "known flake", At: t0.Add(2 * time.Minute)}
	_, err = s.ReviseVerdict(ctx, store.Verdict{Analysis: a.ID, Decision: verdict.Promote, Data: verdictJSON(verdict.Promote)}, audit, nil, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open()
	defer s.Close()
	got, err := s.Analysis(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, verdict.Promote, got.State)
	assert.Equal(t, "rollout-7f9c", got.Key)
	assert.Equal(t, map[string]string{"team": "pay"}, got.Labels)
	assert.JSONEq(t, string(verdictJSON(verdict.Promote)), string(got.Verdict))
	byKey, err := s.AnalysisByKey(ctx, "rollout-7f9c")
	require.NoError(t, err)
	assert.Equal(t, a.ID, byKey.ID)
	gotV, err := s.Verdict(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, gotV.Revision)
	assert.True(t, gotV.At.Equal(v.At), "first recorded at %s, read %s", v.At, gotV.At)
	log, err := s.AuditLog(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, "ana", log[0].By)
	assert.Equal(t, "known flake", log[0].Why)
	assert.True(t, log[0].At.Equal(audit.At))
	ds, err := s.Deliveries(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, store.DeliveryPending, ds[0].State)

	r, err := s.Analysis(ctx, running.ID)
	require.NoError(t, err)
	assert.Equal(t, verdict.Running, r.State)
	assert.Equal(t, verdict.PhaseAnalysis, r.Phase)
	assert.Nil(t, r.Verdict)
	seq, err := s.LastSeq(ctx, running.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), seq)
	snap, err := s.Snapshot(ctx, running.ID)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 2, 255}, snap.Data)
	all, err := s.AllEventsAfter(ctx, 0, 0)
	require.NoError(t, err)
	assert.Len(t, all, 4)
	// New events continue after the old ones: IDs are never reused.
	more := events(running.ID, 4, 4)
	require.NoError(t, s.AppendEvents(ctx, more, 0))
	assert.Greater(t, more[0].ID, all[len(all)-1].ID)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func analysis(id, spec, key string, labels map[string]string) store.Analysis {
	return store.Analysis{ID: id, Spec: spec, Key: key, Labels: labels, Envs: map[string]string{"green": "http://green.internal"},
		Baseline: "blue", Candidate: "green", Phase: verdict.PhaseSmoke, CreatedAt: t0}
}

func create(t *testing.T, s store.Store, a store.Analysis) store.Analysis {
	t.Helper()
	got, created, err := s.CreateAnalysis(context.Background(), a)
	require.NoError(t, err)
	require.True(t, created)
	return got
}

func events(id string, from, to uint64) []store.Event {
	var out []store.Event
	for seq := from; seq <= to; seq++ {
		out = append(out, store.Event{Analysis: id, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), Kind: "tick",
			Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, seq))})
	}
	return out
}

func verdictJSON(d verdict.Decision) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"verdict":%q,"reason":"because"}`, d))
}

func delivery(eventID string) store.Delivery {
	return store.Delivery{EventID: eventID, Target: "webhook/ops", Type: "verdict.decided", Timestamp: t0,
		Payload: json.RawMessage(`{"type":"verdict.decided"}`)}
}

func testAnalysesReadBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := analysis("a1", "checkout", "k1", map[string]string{"rollout": "checkout", "ns": "shop"})
	got := create(t, s, a)
	assert.Equal(t, "a1", got.ID)
	assert.Equal(t, verdict.Running, got.State, "a new analysis is running")
	assert.Equal(t, verdict.PhaseSmoke, got.Phase)
	assert.True(t, got.CreatedAt.Equal(t0))
	assert.True(t, got.UpdatedAt.Equal(t0))
	assert.Equal(t, a.Labels, got.Labels)
	assert.Equal(t, a.Envs, got.Envs)
	assert.Equal(t, "blue", got.Baseline)
	assert.Equal(t, "green", got.Candidate)
	assert.Nil(t, got.Verdict)

	again, err := s.Analysis(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, got, again)
	byKey, err := s.AnalysisByKey(ctx, "k1")
	require.NoError(t, err)
	assert.Equal(t, got, byKey)

	_, err = s.Analysis(ctx, "nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.AnalysisByKey(ctx, "nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.AnalysisByKey(ctx, "")
	assert.ErrorIs(t, err, store.ErrNotFound, "no analysis has the empty key")

	empty := create(t, s, store.Analysis{ID: "a2", Spec: "checkout", CreatedAt: t0})
	assert.Empty(t, empty.Labels)
	assert.Empty(t, empty.Key)
}

func testIdempotencyKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := create(t, s, analysis("a1", "checkout", "rollout-abc", nil))
	got, created, err := s.CreateAnalysis(ctx, analysis("a2", "other", "rollout-abc", nil))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, first, got, "the same key returns the first analysis, whatever else was asked")
	_, err = s.Analysis(ctx, "a2")
	assert.ErrorIs(t, err, store.ErrNotFound, "no second analysis")
	// Analyses without a key never collide.
	create(t, s, analysis("a3", "checkout", "", nil))
	create(t, s, analysis("a4", "checkout", "", nil))
}

func testIdempotencyKeyConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		created int
	)
	for i := range n {
		wg.Go(func() {
			got, c, err := s.CreateAnalysis(ctx, analysis(fmt.Sprintf("c%d", i), "checkout", "same-key", nil))
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[got.ID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, created, "exactly one start created the analysis")
	assert.Len(t, ids, 1, "every start got the same analysis")
	page, err := s.ListAnalyses(ctx, store.Query{})
	require.NoError(t, err)
	assert.Len(t, page.Analyses, 1)
}

func testDuplicateID(t *testing.T, s store.Store) {
	create(t, s, analysis("a1", "checkout", "", nil))
	_, _, err := s.CreateAnalysis(context.Background(), analysis("a1", "checkout", "", nil))
	assert.ErrorIs(t, err, store.ErrExists)
	_, _, err = s.CreateAnalysis(context.Background(), store.Analysis{Spec: "checkout", CreatedAt: t0})
	assert.Error(t, err, "an analysis needs an id")
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Seven analyses a second apart: a0 oldest. Even ones are "checkout", labelled team=pay.
	for i := range 7 {
		a := analysis(fmt.Sprintf("a%d", i), "search", "", map[string]string{"team": "find"})
		if i%2 == 0 {
			a.Spec, a.Labels = "checkout", map[string]string{"team": "pay", "env": "prod"}
		}
		a.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		create(t, s, a)
	}
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0.Add(time.Hour)}, nil, nil))

	ids := func(p store.Page) []string {
		var out []string
		for _, a := range p.Analyses {
			out = append(out, a.ID)
		}
		return out
	}
	all, err := s.ListAnalyses(ctx, store.Query{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a6", "a5", "a4", "a3", "a2", "a1", "a0"}, ids(all), "newest first")
	assert.Empty(t, all.Next)
	assert.NotNil(t, all.Analyses[4].Verdict, "a list carries each verdict")

	// Pages of 3 cover everything once, in order.
	var paged []string
	q := store.Query{Limit: 3}
	for range 5 {
		p, err := s.ListAnalyses(ctx, q)
		require.NoError(t, err)
		paged = append(paged, ids(p)...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	assert.Equal(t, ids(all), paged)

	p, err := s.ListAnalyses(ctx, store.Query{Spec: "checkout"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a6", "a4", "a2", "a0"}, ids(p))
	p, err = s.ListAnalyses(ctx, store.Query{State: verdict.Rollback})
	require.NoError(t, err)
	assert.Equal(t, []string{"a2"}, ids(p))
	p, err = s.ListAnalyses(ctx, store.Query{State: verdict.Running, Labels: map[string]string{"team": "pay", "env": "prod"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"a6", "a4", "a0"}, ids(p))
	p, err = s.ListAnalyses(ctx, store.Query{Labels: map[string]string{"team": "pay", "env": "dev"}})
	require.NoError(t, err)
	assert.Empty(t, p.Analyses, "every label must match")

	_, err = s.ListAnalyses(ctx, store.Query{After: "not a cursor"})
	assert.Error(t, err)
}

func testPhaseAndCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	require.NoError(t, s.SetPhase(ctx, "a1", verdict.PhaseAnalysis, t0.Add(time.Minute)))
	got, err := s.Analysis(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, verdict.PhaseAnalysis, got.Phase)
	assert.True(t, got.UpdatedAt.Equal(t0.Add(time.Minute)))
	assert.ErrorIs(t, s.SetPhase(ctx, "nope", verdict.PhaseAnalysis, t0), store.ErrNotFound)

	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, nil))
	n, err := s.CountAnalyses(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[verdict.Decision]int{verdict.Running: 1, verdict.Promote: 1}, n)
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	e1, e2 := events("a1", 1, 3), events("a2", 1, 2)
	require.NoError(t, s.AppendEvents(ctx, e1, 0))
	require.NoError(t, s.AppendEvents(ctx, e2, 0))
	more := events("a1", 4, 4)
	require.NoError(t, s.AppendEvents(ctx, more, 0))
	ids := append(append(append([]store.Event(nil), e1...), e2...), more...)
	for i := 1; i < len(ids); i++ {
		assert.Greater(t, ids[i].ID, ids[i-1].ID, "IDs increase in the order events were stored")
	}

	got, err := s.EventsAfter(ctx, "a1", 1, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, uint64(2), got[0].Seq)
	assert.Equal(t, "tick", got[0].Kind)
	assert.True(t, got[0].Time.Equal(t0.Add(2*time.Second)))
	assert.JSONEq(t, `{"seq":2}`, string(got[0].Data))
	assert.Equal(t, e1[1].ID, got[0].ID)
	got, err = s.EventsAfter(ctx, "a1", 0, 2)
	require.NoError(t, err)
	assert.Len(t, got, 2, "limit")

	all, err := s.AllEventsAfter(ctx, e1[2].ID, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, "a2", all[0].Analysis)
	assert.Equal(t, "a1", all[2].Analysis)
	assert.Equal(t, uint64(4), all[2].Seq)

	seq, err := s.LastSeq(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), seq)
	seq, err = s.LastSeq(ctx, "none")
	require.NoError(t, err)
	assert.Zero(t, seq)
	assert.NoError(t, s.AppendEvents(ctx, nil, 10), "nothing to append")
}

func testEventRetention(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	require.NoError(t, s.AppendEvents(ctx, events("a2", 1, 3), 5))
	for from := uint64(1); from <= 20; from += 4 {
		require.NoError(t, s.AppendEvents(ctx, events("a1", from, from+3), 5))
	}
	got, err := s.EventsAfter(ctx, "a1", 0, 0)
	require.NoError(t, err)
	require.Len(t, got, 5)
	assert.Equal(t, uint64(16), got[0].Seq, "the newest five are kept")
	other, err := s.EventsAfter(ctx, "a2", 0, 0)
	require.NoError(t, err)
	assert.Len(t, other, 3, "another analysis's events are not pruned")
	seq, err := s.LastSeq(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, uint64(20), seq)
}

func testEventDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	require.NoError(t, s.AppendEvents(ctx, events("a1", 1, 2), 0))
	assert.Error(t, s.AppendEvents(ctx, events("a1", 2, 3), 0))
	got, err := s.EventsAfter(ctx, "a1", 0, 0)
	require.NoError(t, err)
	assert.Len(t, got, 2, "a failed append stores none of its events")
	assert.Error(t, s.AppendEvents(ctx, events("nope", 1, 1), 0), "an event of no analysis")
}

func testSnapshots(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	_, err := s.Snapshot(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.PutSnapshot(ctx, store.Snapshot{Analysis: "a1", Data: []byte(`{"n":1}`), At: t0}))
	require.NoError(t, s.PutSnapshot(ctx, store.Snapshot{Analysis: "a1", Data: []byte(`{"n":2}`), At: t0.Add(time.Second)}))
	got, err := s.Snapshot(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, `{"n":2}`, string(got.Data))
	assert.True(t, got.At.Equal(t0.Add(time.Second)))
	assert.Error(t, s.PutSnapshot(ctx, store.Snapshot{Analysis: "nope", Data: []byte("x"), At: t0}), "a snapshot of no analysis")
}

func testOneVerdict(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	_, err := s.Verdict(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	v := store.Verdict{Analysis: "a1", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0.Add(time.Minute)}
	final := events("a1", 1, 1)
	final[0].Kind = "verdict"
	require.NoError(t, s.RecordVerdict(ctx, v, final, []store.Delivery{delivery("e1")}))
	assert.NotZero(t, final[0].ID, "the verdict's events get their IDs")

	err = s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0.Add(2 * time.Minute)},
		events("a1", 2, 2), []store.Delivery{delivery("e2")})
	assert.ErrorIs(t, err, store.ErrDecided)

	got, err := s.Verdict(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, verdict.Rollback, got.Decision, "the first verdict stands")
	assert.Equal(t, 1, got.Revision)
	assert.True(t, got.At.Equal(t0.Add(time.Minute)))
	a, err := s.Analysis(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, verdict.Rollback, a.State)
	assert.True(t, a.UpdatedAt.Equal(t0.Add(time.Minute)))
	evs, err := s.EventsAfter(ctx, "a1", 0, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "the refused verdict's events were not stored")
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Len(t, ds, 1, "nor its deliveries")

	err = s.RecordVerdict(ctx, store.Verdict{Analysis: "nope", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, nil)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testOneVerdictConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		decided int
	)
	for i := range 8 {
		wg.Go(func() {
			d := verdict.Promote
			if i%2 == 1 {
				d = verdict.Rollback
			}
			err := s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: d, Data: verdictJSON(d), At: t0}, nil, []store.Delivery{delivery(fmt.Sprintf("e%d", i))})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrDecided):
				decided++
			default:
				t.Errorf("record: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, ok)
	assert.Equal(t, 7, decided)
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Len(t, ds, 1, "only the recorded verdict's delivery")
}

func testVerdictAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	// A delivery without a target cannot be enqueued: the whole verdict is refused.
	bad := delivery("e1")
	bad.Target = ""
	err := s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0}, events("a1", 1, 1), []store.Delivery{delivery("e0"), bad})
	require.Error(t, err)
	_, err = s.Verdict(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound, "no verdict without its deliveries")
	a, err := s.Analysis(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, verdict.Running, a.State)
	evs, err := s.EventsAfter(ctx, "a1", 0, 0)
	require.NoError(t, err)
	assert.Empty(t, evs)
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Empty(t, ds)
}

func testRevise(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	audit := store.AuditEntry{Action: "override", Decision: verdict.Promote, By: "ana", Token: "oncall", Why: "flaky check", At: t0.Add(time.Hour)}
	_, err := s.ReviseVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote)}, audit, nil, nil)
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing to revise before a verdict")
	log, err := s.AuditLog(ctx, "a1")
	require.NoError(t, err)
	assert.Empty(t, log, "a refused revision leaves no audit entry")

	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0}, nil, nil))
	got, err := s.ReviseVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote)}, audit,
		events("a1", 1, 1), []store.Delivery{delivery("override-1")})
	require.NoError(t, err)
	assert.Equal(t, verdict.Promote, got.Decision)
	assert.Equal(t, 2, got.Revision)
	assert.True(t, got.At.Equal(t0), "first recorded at, kept")
	assert.JSONEq(t, string(verdictJSON(verdict.Promote)), string(got.Data))
	a, err := s.Analysis(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, verdict.Promote, a.State)
	assert.True(t, a.UpdatedAt.Equal(t0.Add(time.Hour)))
	log, err = s.AuditLog(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, "a1", log[0].Analysis)
	assert.Equal(t, "override", log[0].Action)
	assert.Equal(t, verdict.Promote, log[0].Decision)
	assert.Equal(t, "oncall", log[0].Token)
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Len(t, ds, 1)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	e1, err := s.AppendAudit(ctx, store.AuditEntry{Analysis: "a1", Action: "abort", By: "bo", Token: "ci", Why: "wrong build", At: t0})
	require.NoError(t, err)
	assert.NotZero(t, e1.ID)
	_, err = s.AppendAudit(ctx, store.AuditEntry{Analysis: "a2", Action: "abort", By: "cy", Token: "ci", Why: "dup", At: t0.Add(time.Second)})
	require.NoError(t, err)
	_, err = s.AppendAudit(ctx, store.AuditEntry{Analysis: "nope", Action: "abort", At: t0})
	assert.Error(t, err, "an entry of no analysis")

	log, err := s.AuditLog(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, e1.ID, log[0].ID)
	assert.Equal(t, "wrong build", log[0].Why)
	assert.True(t, log[0].At.Equal(t0))
	all, err := s.AuditLog(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "a2", all[1].Analysis)
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	later := delivery("e-later")
	later.NextAttempt = t0.Add(time.Hour)
	slack := delivery("e1")
	slack.Target = "slack/oncall" // the same event to a second endpoint: the same event id
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0},
		nil, []store.Delivery{delivery("e1"), slack, delivery("e2"), later}))
	// Enqueueing a key already there leaves it as it is.
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0.Add(time.Minute)},
		nil, []store.Delivery{delivery("e2")}))

	next, ok, err := s.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(t0), "due at once: %s", next)
	claimed, err := s.ClaimDeliveries(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 3, "the due ones")
	assert.Equal(t, store.DeliveryKey{EventID: "e1", Target: "slack/oncall"}, claimed[0].Key(), "oldest due first, then by key")
	assert.Equal(t, store.DeliveryKey{EventID: "e1", Target: "webhook/ops"}, claimed[1].Key())
	assert.Equal(t, "e2", claimed[2].EventID)
	c := claimed[1]
	assert.Equal(t, "a1", c.Analysis)
	assert.Equal(t, "verdict.decided", c.Type)
	assert.True(t, c.Timestamp.Equal(t0))
	assert.True(t, c.Since.Equal(t0), "the retry window starts with the verdict")
	assert.Equal(t, store.DeliveryPending, c.State)
	assert.JSONEq(t, `{"type":"verdict.decided"}`, string(c.Payload))
	again, err := s.ClaimDeliveries(ctx, t0.Add(30*time.Second), 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, again, "claimed ones are not claimed again within the lease")
	next, _, err = s.NextDue(ctx)
	require.NoError(t, err)
	assert.True(t, next.Equal(t0.Add(time.Minute)), "the earliest lease's end: %s", next)

	require.NoError(t, s.MarkDelivered(ctx, claimed[1].Key(), 1, t0.Add(time.Second)))
	require.NoError(t, s.MarkFailed(ctx, claimed[2].Key(), store.DeliveryFailure{Attempts: 1, At: t0.Add(time.Second), Error: "503 Service Unavailable", Next: t0.Add(5 * time.Minute)}))
	require.NoError(t, s.DisableEndpoint(ctx, "slack/oncall", "410 Gone", t0.Add(time.Second)))
	disabled, err := s.DisabledEndpoints(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"slack/oncall": "410 Gone"}, disabled)
	afterLease, err := s.ClaimDeliveries(ctx, t0.Add(2*time.Minute), 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, afterLease, "the failed one waits for its next attempt; a disabled endpoint's are held")
	due, err := s.ClaimDeliveries(ctx, t0.Add(5*time.Minute), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, "e2", due[0].EventID)
	assert.Equal(t, 1, due[0].Attempts)
	assert.Equal(t, "503 Service Unavailable", due[0].LastError)
	require.NoError(t, s.MarkFailed(ctx, due[0].Key(), store.DeliveryFailure{Attempts: 2, At: t0.Add(6 * time.Minute), Error: "400 Bad Request", Dead: true}))

	require.NoError(t, s.EnableEndpoint(ctx, "slack/oncall"))
	back, err := s.ClaimDeliveries(ctx, t0.Add(7*time.Minute), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, back, 1, "an enabled endpoint's deliveries are claimed again")
	assert.Equal(t, "slack/oncall", back[0].Target)

	// A lease that ran out (the sender died) lets another claim it.
	lost, err := s.ClaimDeliveries(ctx, t0.Add(time.Hour), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, lost, 2)
	assert.Equal(t, "slack/oncall", lost[0].Target, "its lease ended at 8m")
	assert.Equal(t, "e-later", lost[1].EventID)

	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, ds, 4, "in enqueue order")
	assert.Equal(t, store.DeliveryDelivered, ds[0].State)
	assert.True(t, ds[0].DoneAt.Equal(t0.Add(time.Second)))
	assert.Equal(t, 1, ds[0].Attempts)
	assert.Equal(t, store.DeliveryDead, ds[2].State, "given up")
	assert.Equal(t, 2, ds[2].Attempts)
	assert.Equal(t, "400 Bad Request", ds[2].LastError)
	assert.True(t, ds[2].DoneAt.Equal(t0.Add(6*time.Minute)))
	other, err := s.Deliveries(ctx, "a2")
	require.NoError(t, err)
	assert.Empty(t, other, "a key already enqueued was not enqueued again")

	// Redelivery by hand: pending again, due now, a new retry window.
	require.NoError(t, s.Redeliver(ctx, ds[2].Key(), t0.Add(2*time.Hour)))
	re, err := s.ClaimDeliveries(ctx, t0.Add(2*time.Hour), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, re, 3)
	var got store.Delivery
	for _, d := range re {
		if d.Key() == ds[2].Key() {
			got = d
		}
	}
	assert.Equal(t, store.DeliveryPending, got.State)
	assert.Zero(t, got.Attempts)
	assert.True(t, got.Since.Equal(t0.Add(2*time.Hour)))
	assert.ErrorIs(t, s.Redeliver(ctx, store.DeliveryKey{EventID: "nope", Target: "x"}, t0), store.ErrNotFound)
	assert.ErrorIs(t, s.MarkDelivered(ctx, store.DeliveryKey{EventID: "nope", Target: "x"}, 1, t0), store.ErrNotFound)
	_, ok, err = s.NextDue(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
}

func testThinEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	evs := events("a1", 1, 100) // ticks
	for i := range evs {
		if evs[i].Seq%10 == 5 {
			evs[i].Kind = "phase"
		}
	}
	require.NoError(t, s.AppendEvents(ctx, evs, 0))
	require.NoError(t, s.AppendEvents(ctx, events("a2", 1, 30), 0))
	require.NoError(t, s.ThinEvents(ctx, "a1", "tick", 9))

	got, err := s.EventsAfter(ctx, "a1", 0, 0)
	require.NoError(t, err)
	var ticks []uint64
	phases := 0
	for _, e := range got {
		if e.Kind == "tick" {
			ticks = append(ticks, e.Seq)
		} else {
			phases++
		}
	}
	assert.Equal(t, 10, phases, "events of other kinds are kept")
	// 90 ticks, one in ten kept from the oldest, and the newest.
	assert.Equal(t, []uint64{1, 12, 23, 34, 46, 57, 68, 79, 90, 100}, ticks)
	seq, err := s.LastSeq(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, uint64(100), seq)
	other, err := s.EventsAfter(ctx, "a2", 0, 0)
	require.NoError(t, err)
	assert.Len(t, other, 30, "another analysis's events are not thinned")

	require.NoError(t, s.ThinEvents(ctx, "a2", "tick", 50))
	other, err = s.EventsAfter(ctx, "a2", 0, 0)
	require.NoError(t, err)
	assert.Len(t, other, 30, "fewer than keep: all kept")
}
