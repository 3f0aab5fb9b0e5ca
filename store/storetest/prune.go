package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// decide records a verdict at the time given, with a few events, a snapshot, a label and one
// delivery (pending until marked).
func decide(t *testing.T, s store.Store, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	create(t, s, analysis(id, "checkout", "", map[string]string{"team": "pay"}))
	require.NoError(t, s.AppendEvents(ctx, events(id, 1, 3), 0))
	require.NoError(t, s.PutSnapshot(ctx, store.Snapshot{Analysis: id, Data: []byte{1}, At: at}))
	d := delivery("evt-" + id)
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: id, Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: at},
		events(id, 4, 4), []store.Delivery{d}))
}

func deliver(t *testing.T, s store.Store, id string, at time.Time) {
	t.Helper()
	require.NoError(t, s.MarkDelivered(context.Background(), store.DeliveryKey{EventID: "evt-" + id, Target: delivery("").Target}, 1, at))
}

func prune(t *testing.T, s store.Store, before time.Time, limit int) []string {
	t.Helper()
	ids, err := s.PruneAnalyses(context.Background(), before, limit)
	require.NoError(t, err)
	return ids
}

// testPrune: decided analyses older than the cut are deleted with everything of theirs but
// their audit entries, oldest first and a batch at a time; running ones, recent ones and ones
// with a delivery still pending stay.
func testPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	cut := t0.Add(30 * 24 * time.Hour)
	decide(t, s, "old-1", t0.Add(time.Minute))
	deliver(t, s, "old-1", t0.Add(time.Minute))
	decide(t, s, "old-2", t0.Add(2*time.Minute))
	deliver(t, s, "old-2", t0.Add(2*time.Minute))
	// Overridden before the cut: pruned, its audit entry kept.
	audit := store.AuditEntry{Action: "override", Decision: verdict.Rollback, By: "ana", Token: "oncall", Why: "saw it in the logs", At: t0.Add(time.Hour)}
	_, err := s.ReviseVerdict(ctx, store.Verdict{Analysis: "old-2", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback)}, audit, nil, nil)
	require.NoError(t, err)
	// Decided before the cut but overridden after it: kept (the override counts).
	decide(t, s, "old-revised", t0)
	deliver(t, s, "old-revised", t0)
	audit.At = cut.Add(time.Hour)
	_, err = s.ReviseVerdict(ctx, store.Verdict{Analysis: "old-revised", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback)}, audit, nil, nil)
	require.NoError(t, err)
	decide(t, s, "old-pending", t0) // its delivery is never marked
	decide(t, s, "recent", cut.Add(time.Second))
	deliver(t, s, "recent", cut.Add(time.Second))
	create(t, s, analysis("running", "checkout", "", nil)) // created at t0, never decided

	assert.Empty(t, prune(t, s, cut, 0), "no batch, nothing")
	assert.Equal(t, []string{"old-1"}, prune(t, s, cut, 1), "the oldest verdict first")
	assert.Equal(t, []string{"old-2"}, prune(t, s, cut, 10), "old-2 last changed at its override, before the cut")
	assert.Empty(t, prune(t, s, cut, 10), "pruning again deletes nothing more")

	for _, id := range []string{"old-1", "old-2"} {
		_, err := s.Analysis(ctx, id)
		assert.ErrorIs(t, err, store.ErrNotFound, id)
		_, err = s.Verdict(ctx, id)
		assert.ErrorIs(t, err, store.ErrNotFound, id)
		_, err = s.Snapshot(ctx, id)
		assert.ErrorIs(t, err, store.ErrNotFound, id)
		evs, err := s.EventsAfter(ctx, id, 0, 100)
		require.NoError(t, err)
		assert.Empty(t, evs, id)
		ds, err := s.Deliveries(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, ds, id)
	}
	page, err := s.ListAnalyses(ctx, store.Query{Labels: map[string]string{"team": "pay"}})
	require.NoError(t, err)
	var listed []string
	for _, a := range page.Analyses {
		listed = append(listed, a.ID)
	}
	assert.ElementsMatch(t, []string{"old-revised", "old-pending", "recent"}, listed, "the pruned ones' labels went with them")
	counts, err := s.CountAnalyses(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[verdict.Decision]int{verdict.Running: 1, verdict.Promote: 2, verdict.Rollback: 1}, counts)

	log, err := s.AuditLog(ctx, "old-2")
	require.NoError(t, err)
	require.Len(t, log, 1, "the audit entry outlives its analysis")
	assert.Equal(t, "saw it in the logs", log[0].Why)
	_, err = s.AppendAudit(ctx, store.AuditEntry{Analysis: "old-2", Action: "abort", At: cut})
	assert.Error(t, err, "no new entry of an analysis no longer stored")
	e, err := s.AppendAudit(ctx, store.AuditEntry{Analysis: "recent", Action: "abort", At: cut})
	require.NoError(t, err)
	all, err := s.AuditLog(ctx, "")
	require.NoError(t, err)
	assert.Greater(t, e.ID, all[len(all)-2].ID, "audit ids are never reused")

	// The pending delivery holds its analysis until it is given up.
	require.NoError(t, s.MarkFailed(ctx, store.DeliveryKey{EventID: "evt-old-pending", Target: delivery("").Target},
		store.DeliveryFailure{Attempts: 5, At: cut, Error: "503 Service Unavailable", Dead: true}))
	assert.Equal(t, []string{"old-pending"}, prune(t, s, cut, 10))
	// A redelivery by hand makes a delivery pending again: its analysis waits for it.
	require.NoError(t, s.Redeliver(ctx, store.DeliveryKey{EventID: "evt-recent", Target: delivery("").Target}, cut.Add(2*time.Second)))
	assert.Empty(t, prune(t, s, cut.Add(time.Hour), 10), "recent's delivery is pending again")
	assert.Equal(t, []string{"old-revised"}, prune(t, s, cut.Add(2*time.Hour), 10), "never the running one")

	// Event ids stay increasing after a prune: a follower of the global stream misses nothing.
	before, err := s.AllEventsAfter(ctx, 0, 1000)
	require.NoError(t, err)
	require.NotEmpty(t, before)
	require.NoError(t, s.AppendEvents(ctx, events("running", 1, 1), 0))
	after, err := s.AllEventsAfter(ctx, before[len(before)-1].ID, 10)
	require.NoError(t, err)
	require.Len(t, after, 1)
	assert.Equal(t, "running", after[0].Analysis)
}

// testPruneConcurrent: replicas pruning at the same moment delete each analysis once and
// neither fails.
func testPruneConcurrent(t *testing.T, s store.Store) {
	const n = 24
	var want []string
	for i := range n {
		id := fmt.Sprintf("a%02d", i)
		decide(t, s, id, t0.Add(time.Duration(i)*time.Second))
		deliver(t, s, id, t0.Add(time.Hour))
		want = append(want, id)
	}
	cut := t0.Add(24 * time.Hour)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		pruned []string
		errs   []error
	)
	for range 3 {
		wg.Go(func() {
			for {
				ids, err := s.PruneAnalyses(context.Background(), cut, 5)
				mu.Lock()
				pruned = append(pruned, ids...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				if err != nil || len(ids) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	slices.Sort(pruned)
	assert.Equal(t, want, pruned, "each once")
	counts, err := s.CountAnalyses(context.Background())
	require.NoError(t, err)
	assert.Empty(t, counts[verdict.Promote])
}
