package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
)

// countingStore counts the transactions that append events; the outbox it has is empty (the
// server's dispatcher looks at it), and nothing else is used.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	appends int
	events  int
}

func (c *countingStore) AppendEvents(_ context.Context, evs []store.Event, _ int, _ ...store.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends++
	c.events += len(evs)
	return nil
}

func (c *countingStore) ClaimDeliveries(context.Context, time.Time, int, time.Duration) ([]store.Delivery, error) {
	return nil, nil
}

func (c *countingStore) NextDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

// TestEventsCommittedTogether: the writes of many analyses that come within the linger are
// committed in one transaction, not one each; one waiting for its commit is told.
func TestEventsCommittedTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := &countingStore{}
		srv, err := New(Options{Store: cs})
		require.NoError(t, err)
		for i := range 10 {
			id := fmt.Sprintf("a%d", i)
			srv.writes <- write{analysis: id, events: []store.Event{{Analysis: id, Seq: 1}, {Analysis: id, Seq: 2}}}
			// The writer has taken what came so far (no time passes: the analyses' ticks are
			// spread over each second, not simultaneous).
			synctest.Wait()
		}
		done := make(chan struct{})
		srv.writes <- write{analysis: "last", events: []store.Event{{Analysis: "last", Seq: 1}}, done: done}
		<-done
		cs.mu.Lock()
		assert.Equal(t, 1, cs.appends, "one transaction")
		assert.Equal(t, 21, cs.events)
		cs.mu.Unlock()
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}

// flakyStore refuses the first fail appends, as a database that is away for a moment.
type flakyStore struct {
	countingStore
	fail int
}

func (f *flakyStore) AppendEvents(ctx context.Context, evs []store.Event, keep int, out ...store.Delivery) error {
	f.mu.Lock()
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		return fmt.Errorf("connection refused")
	}
	f.mu.Unlock()
	return f.countingStore.AppendEvents(ctx, evs, keep, out...)
}

// Ping fails while appends do: the database is away.
func (f *flakyStore) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		return fmt.Errorf("connection refused")
	}
	return nil
}

// poisonStore answers, but refuses any transaction holding an event of the analysis "bad" (one
// already stored by another replica, say).
type poisonStore struct {
	countingStore
	refused int
}

func (p *poisonStore) AppendEvents(ctx context.Context, evs []store.Event, keep int, out ...store.Delivery) error {
	for _, e := range evs {
		if e.Analysis == "bad" {
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			return fmt.Errorf("duplicate key value violates unique constraint")
		}
	}
	return p.countingStore.AppendEvents(ctx, evs, keep, out...)
}

func (p *poisonStore) Ping(context.Context) error { return nil }

// TestOneBadWriteCostsNoOtherAnalysisItsEvents: a batch the store refuses while it answers is
// committed analysis by analysis, at once; only the refused analysis's events are given up.
func TestOneBadWriteCostsNoOtherAnalysisItsEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := &poisonStore{}
		srv, err := New(Options{Store: ps, LeaseTTL: 15 * time.Second})
		require.NoError(t, err)
		start := time.Now()
		srv.writes <- write{analysis: "a", events: []store.Event{{Analysis: "a", Seq: 1}}}
		srv.writes <- write{analysis: "bad", events: []store.Event{{Analysis: "bad", Seq: 7}}}
		done := make(chan struct{})
		srv.writes <- write{analysis: "b", events: []store.Event{{Analysis: "b", Seq: 1}, {Analysis: "b", Seq: 2}}, done: done}
		<-done
		ps.mu.Lock()
		assert.Equal(t, 3, ps.events, "a's and b's events stored")
		assert.Equal(t, 2, ps.refused, "the batch, then bad's write alone")
		ps.mu.Unlock()
		assert.Less(t, time.Since(start), time.Second, "no waiting for a store that answers")
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}

// TestEventsRetriedOverAShortOutage: a batch the store refuses is tried again until it is
// stored, within a lease; longer, it is given up and the writer goes on with the next.
func TestEventsRetriedOverAShortOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &flakyStore{fail: 5}
		srv, err := New(Options{Store: fs, LeaseTTL: 15 * time.Second})
		require.NoError(t, err)
		done := make(chan struct{})
		srv.writes <- write{analysis: "a", events: []store.Event{{Analysis: "a", Seq: 1}, {Analysis: "a", Seq: 2}}, done: done}
		<-done
		fs.mu.Lock()
		assert.Equal(t, 1, fs.appends, "stored once, after the refusals")
		assert.Equal(t, 2, fs.events)
		assert.Zero(t, fs.fail, "tried until the store took it")
		// An outage longer than a lease: the batch is given up, the next one is stored.
		fs.fail = 1000
		fs.mu.Unlock()
		lost := make(chan struct{})
		srv.writes <- write{analysis: "b", events: []store.Event{{Analysis: "b", Seq: 1}}, done: lost}
		<-lost
		fs.mu.Lock()
		assert.Equal(t, 1, fs.appends, "the batch given up was not stored")
		fs.fail = 0
		fs.mu.Unlock()
		next := make(chan struct{})
		srv.writes <- write{analysis: "c", events: []store.Event{{Analysis: "c", Seq: 1}}, done: next}
		<-next
		fs.mu.Lock()
		assert.Equal(t, 2, fs.appends)
		fs.mu.Unlock()
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}

// TestLeasesStaleAfterALease: a replica whose last renewal is a lease old may have lost its
// analyses to another replica without knowing yet: its leases are stale (its events wait).
func TestLeasesStaleAfterALease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := New(Options{Store: &countingStore{}, LeaseTTL: 15 * time.Second})
		require.NoError(t, err)
		assert.False(t, srv.leasesStale(), "before the lease loop starts")
		srv.leases.renewed.Store(time.Now().UnixNano())
		assert.False(t, srv.leasesStale())
		time.Sleep(14 * time.Second)
		assert.False(t, srv.leasesStale())
		time.Sleep(time.Second)
		assert.True(t, srv.leasesStale(), "a whole lease unrenewed")
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}
