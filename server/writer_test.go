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
