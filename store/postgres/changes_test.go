package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/verdict"
)

// nextChange returns the next change that is not a resync (the test's context bounds the wait).
func nextChange(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "the subscription ended")
			if !c.Resync {
				return c
			}
		case <-t.Context().Done():
			t.Fatal("no change")
		}
	}
}

// waitResync reads changes until a resync.
func waitResync(t *testing.T, ch <-chan store.Change) {
	t.Helper()
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "the subscription ended")
			if c.Resync {
				return
			}
		case <-t.Context().Done():
			t.Fatal("no resync")
		}
	}
}

func mkAnalysis(t *testing.T, s *Store, id string) {
	t.Helper()
	_, _, err := s.CreateAnalysis(context.Background(), store.Analysis{ID: id, Spec: "checkout", State: verdict.Running, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(1, 0)})
	require.NoError(t, err)
}

// TestChangesAcrossStores: what one store (a replica) commits, another sharing the database
// hears of once it is committed: events with the newest event's id, a verdict as decided; a
// transaction touching many analyses notifies each of them, over several notifications.
func TestChangesAcrossStores(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ch, cancel := b.Subscribe(ctx)
	defer cancel()
	waitResync(t, ch) // b listens from here on

	mkAnalysis(t, a, "an-1")
	evs := []store.Event{{Analysis: "an-1", Seq: 1, Kind: "phase"}, {Analysis: "an-1", Seq: 2, Kind: "tick"}}
	require.NoError(t, a.AppendEvents(ctx, evs, 0))
	assert.Equal(t, store.Change{Analysis: "an-1", LastEventID: evs[1].ID}, nextChange(t, ch))

	final := []store.Event{{Analysis: "an-1", Seq: 3, Kind: "verdict"}}
	require.NoError(t, a.RecordVerdict(ctx, store.Verdict{Analysis: "an-1", Decision: verdict.Rollback, Data: json.RawMessage(`{}`), At: time.Unix(2, 0)}, final, nil))
	assert.Equal(t, store.Change{Analysis: "an-1", LastEventID: final[0].ID, Decided: true}, nextChange(t, ch))

	_, err := a.ReviseVerdict(ctx, store.Verdict{Analysis: "an-1", Decision: verdict.Promote, Data: json.RawMessage(`{}`)},
		store.AuditEntry{Action: "override", By: "ana", Why: "flake", At: time.Unix(3, 0)}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, store.Change{Analysis: "an-1", Decided: true}, nextChange(t, ch))

	// 200 analyses in one transaction: more than one notification's payload can hold (and fewer
	// than a subscriber may fall behind by).
	var many []store.Event
	want := map[string]int64{}
	for i := range 200 {
		id := fmt.Sprintf("analysis-with-a-long-id-%04d", i)
		mkAnalysis(t, a, id)
		many = append(many, store.Event{Analysis: id, Seq: 1, Kind: "phase"})
	}
	require.NoError(t, a.AppendEvents(ctx, many, 0))
	for _, e := range many {
		want[e.Analysis] = e.ID
	}
	got := map[string]int64{}
	for len(got) < len(want) {
		c := nextChange(t, ch)
		require.NotContains(t, got, c.Analysis, "one change per analysis and transaction")
		got[c.Analysis] = c.LastEventID
	}
	assert.Equal(t, want, got)
}

// TestChangesResyncAfterReconnect: the listening connection is cut (a database restart, a
// network fault); the store connects again and says resync (what was notified meanwhile is
// lost), then hears of commits again.
func TestChangesResyncAfterReconnect(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t))
	t.Cleanup(func() { _ = s.Close() })
	ch, cancel := s.Subscribe(ctx)
	defer cancel()
	waitResync(t, ch)

	var killed int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, listenerName).Scan(&killed))
	require.Equal(t, 1, killed, "one listening connection")
	waitResync(t, ch)

	mkAnalysis(t, s, "an-1")
	evs := []store.Event{{Analysis: "an-1", Seq: 1, Kind: "phase"}}
	require.NoError(t, s.AppendEvents(ctx, evs, 0))
	assert.Equal(t, store.Change{Analysis: "an-1", LastEventID: evs[0].ID}, nextChange(t, ch))
}

// TestChangesSlowSubscriber: a subscriber that does not keep up is not waited for; once it
// reads again it is told to resync, then gets the changes that follow.
func TestChangesSlowSubscriber(t *testing.T) {
	var c changes
	sub := &subscriber{ch: make(chan store.Change, subscriberBuffer)}
	c.subs = map[*subscriber]struct{}{sub: {}}
	for i := range subscriberBuffer + 10 {
		c.send(store.Change{Analysis: fmt.Sprint(i)})
	}
	for i := range subscriberBuffer {
		require.Equal(t, fmt.Sprint(i), (<-sub.ch).Analysis)
	}
	c.send(store.Change{Analysis: "late"})
	assert.Equal(t, store.Change{Resync: true}, <-sub.ch)
	c.send(store.Change{Analysis: "next"})
	assert.Equal(t, store.Change{Analysis: "next"}, <-sub.ch)

	// Subscriptions end with the store.
	c.close()
	_, ok := <-sub.ch
	assert.False(t, ok)
}

// TestCommands: a command asked of one replica is heard of by another, taken by one replica
// only, and its answer, once done, heard of and read back.
func TestCommands(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ch, cancel := a.Subscribe(ctx)
	defer cancel()
	waitResync(t, ch)
	mkAnalysis(t, a, "an-1")

	_, err := b.AddCommand(ctx, store.Command{Analysis: "nope", Kind: "abort", Created: time.Unix(5, 0)})
	require.ErrorIs(t, err, store.ErrNotFound)
	c, err := b.AddCommand(ctx, store.Command{Analysis: "an-1", Kind: "override", Decision: verdict.Promote, By: "ana", Token: "oncall", Why: "flake", Created: time.Unix(5, 0).UTC()})
	require.NoError(t, err)
	assert.Equal(t, store.Change{Analysis: "an-1", Command: c.ID}, nextChange(t, ch), "the replica running it hears of it")

	pending, err := a.PendingCommands(ctx, "an-1")
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, c, pending[0])

	took, err := a.TakeCommand(ctx, c.ID, "replica-a")
	require.NoError(t, err)
	assert.True(t, took)
	took, err = b.TakeCommand(ctx, c.ID, "replica-b")
	require.NoError(t, err)
	assert.False(t, took, "taken once")
	pending, err = a.PendingCommands(ctx, "an-1")
	require.NoError(t, err)
	assert.Empty(t, pending)

	require.ErrorIs(t, b.FinishCommand(ctx, c.ID, "replica-b", 200, json.RawMessage(`{}`), time.Unix(6, 0)), store.ErrNotFound, "only its taker finishes it")
	require.NoError(t, a.FinishCommand(ctx, c.ID, "replica-a", 200, json.RawMessage(`{"verdict":"promote"}`), time.Unix(6, 0)))
	assert.Equal(t, store.Change{Analysis: "an-1", Command: c.ID}, nextChange(t, ch))
	require.ErrorIs(t, a.FinishCommand(ctx, c.ID, "replica-a", 500, nil, time.Unix(7, 0)), store.ErrNotFound, "done once")

	got, err := b.Command(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "replica-a", got.TakenBy)
	assert.Equal(t, 200, got.Status)
	assert.JSONEq(t, `{"verdict":"promote"}`, string(got.Result))
	assert.Equal(t, time.Unix(6, 0).UTC(), got.DoneAt)
	_, err = b.Command(ctx, c.ID+1)
	assert.ErrorIs(t, err, store.ErrNotFound)
}
