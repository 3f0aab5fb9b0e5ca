package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

const ttl = 15 * time.Second

func acquire(t *testing.T, s store.Store, id, owner string, now time.Time) bool {
	t.Helper()
	ok, err := s.AcquireLease(context.Background(), id, owner, ttl, now)
	require.NoError(t, err)
	return ok
}

// testLeases: a lease is taken when free, renewed by its owner, refused to another until it
// expires, then taken over; its old owner's renewal then says it is lost.
func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))

	expired, err := s.ExpiredLeases(ctx, t0, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "a2"}, expired, "running analyses without a lease")

	require.True(t, acquire(t, s, "a1", "replica-a", t0))
	assert.True(t, acquire(t, s, "a1", "replica-a", t0.Add(time.Second)), "its owner renews it")
	assert.False(t, acquire(t, s, "a1", "replica-b", t0.Add(ttl)), "held until t0+1s+ttl")
	expired, err = s.ExpiredLeases(ctx, t0.Add(ttl), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a2"}, expired)

	lost, err := s.RenewLeases(ctx, "replica-a", []string{"a1", "a2"}, ttl, t0.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, []string{"a2"}, lost, "a2 was never replica-a's")
	// Renewed until t0+2s+ttl: still held a moment before, expired then.
	assert.False(t, acquire(t, s, "a1", "replica-b", t0.Add(2*time.Second+ttl-time.Nanosecond)))
	expired, err = s.ExpiredLeases(ctx, t0.Add(2*time.Second+ttl), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "a2"}, expired)
	require.True(t, acquire(t, s, "a1", "replica-b", t0.Add(2*time.Second+ttl)), "an expired lease is taken over")

	lost, err = s.RenewLeases(ctx, "replica-a", []string{"a1"}, ttl, t0.Add(3*time.Second+ttl))
	require.NoError(t, err)
	assert.Equal(t, []string{"a1"}, lost, "the old owner learns it lost a1")
	assert.False(t, acquire(t, s, "a1", "replica-a", t0.Add(3*time.Second+ttl)))

	// Released: free at once for anyone. A release by another owner changes nothing.
	require.NoError(t, s.ReleaseLease(ctx, "a1", "replica-a"))
	assert.False(t, acquire(t, s, "a1", "replica-c", t0.Add(3*time.Second+ttl)))
	require.NoError(t, s.ReleaseLease(ctx, "a1", "replica-b"))
	assert.True(t, acquire(t, s, "a1", "replica-c", t0.Add(3*time.Second+ttl)))

	// A decided analysis is never expired, whatever its lease.
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, nil))
	expired, err = s.ExpiredLeases(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a1"}, expired)
	expired, err = s.ExpiredLeases(ctx, t0.Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Empty(t, expired)
}

// testLeaseRace: replicas taking the same free lease at once, and then the same expired one:
// exactly one gets it each time.
func testLeaseRace(t *testing.T, s store.Store) {
	create(t, s, analysis("a1", "checkout", "", nil))
	for round, now := range []time.Time{t0, t0.Add(time.Hour)} {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range 8 {
			owner := fmt.Sprintf("replica-%d-%d", round, i)
			wg.Go(func() {
				ok, err := s.AcquireLease(context.Background(), "a1", owner, ttl, now)
				if err != nil {
					t.Errorf("acquire: %v", err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, winners, 1, "round %d: exactly one replica holds the lease", round)
		lost, err := s.RenewLeases(context.Background(), winners[0], []string{"a1"}, ttl, now)
		require.NoError(t, err)
		assert.Empty(t, lost, "round %d: the winner holds it", round)
	}
}

// testLeaseWithTheStart: an analysis created with an owner has its lease from the start.
func testLeaseWithTheStart(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := analysis("a1", "checkout", "", nil)
	a.Owner, a.LeaseUntil = "replica-a", t0.Add(ttl)
	got := create(t, s, a)
	assert.Empty(t, got.Owner, "reads leave the lease out")
	create(t, s, analysis("a2", "checkout", "", nil))
	expired, err := s.ExpiredLeases(ctx, t0, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a2"}, expired)
	assert.False(t, acquire(t, s, "a1", "replica-b", t0))
	lost, err := s.RenewLeases(ctx, "replica-a", []string{"a1"}, ttl, t0.Add(time.Second))
	require.NoError(t, err)
	assert.Empty(t, lost)
	assert.True(t, acquire(t, s, "a1", "replica-b", t0.Add(time.Second+ttl)), "then it expires as any lease")
}
