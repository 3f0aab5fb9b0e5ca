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
	"github.com/greenlight/greenlight/verdict/emit"
)

func testStartDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := analysis("a1", "checkout", "rollout-1", nil)
	started := delivery("e-start")
	started.Type = string(emit.Started)
	_, created, err := s.CreateAnalysis(ctx, a, started)
	require.NoError(t, err)
	require.True(t, created)
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, ds, 1, "enqueued with the analysis")
	assert.Equal(t, "a1", ds[0].Analysis)
	assert.Equal(t, store.DeliveryPending, ds[0].State)
	assert.True(t, ds[0].Since.Equal(a.CreatedAt), "the retry window starts with the analysis")
	assert.True(t, ds[0].NextAttempt.Equal(a.CreatedAt), "due at once")

	// The same key is the same analysis: nothing is enqueued a second time.
	again := delivery("e-start-2")
	_, created, err = s.CreateAnalysis(ctx, analysis("a2", "checkout", "rollout-1", nil), again)
	require.NoError(t, err)
	assert.False(t, created)
	ds, err = s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Len(t, ds, 1)
	page, err := s.ListDeliveries(ctx, store.DeliveryQuery{})
	require.NoError(t, err)
	assert.Len(t, page.Deliveries, 1)

	// A start whose delivery cannot be enqueued is not stored either: one transaction.
	_, _, err = s.CreateAnalysis(ctx, analysis("a3", "checkout", "", nil), store.Delivery{Target: "hook"})
	require.Error(t, err)
	_, err = s.Analysis(ctx, "a3")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testEventDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	smokeDone := delivery("e-smoke")
	smokeDone.Analysis, smokeDone.Type = "a1", string(emit.SmokeDone)
	require.NoError(t, s.AppendEvents(ctx, events("a1", 1, 2), 0, smokeDone))
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, ds, 1, "enqueued with the events")
	assert.Equal(t, string(emit.SmokeDone), ds[0].Type)
	assert.Equal(t, store.DeliveryPending, ds[0].State)
	assert.True(t, ds[0].NextAttempt.Equal(smokeDone.Timestamp), "due at once")

	// Events that cannot be stored (a sequence number already used) enqueue nothing: one
	// transaction.
	again := delivery("e-smoke-2")
	again.Analysis = "a1"
	require.Error(t, s.AppendEvents(ctx, events("a1", 2, 3), 0, again))
	ds, err = s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	assert.Len(t, ds, 1)
	last, err := s.LastSeq(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), last)
}

func testListDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	create(t, s, analysis("a2", "checkout", "", nil))
	var ds []store.Delivery
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		ds = append(ds, delivery(id))
	}
	other := delivery("e6")
	other.Target = "slack/oncall"
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, ds))
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Rollback, Data: verdictJSON(verdict.Rollback), At: t0}, nil, []store.Delivery{other}))
	require.NoError(t, s.MarkFailed(ctx, store.DeliveryKey{EventID: "e2", Target: "webhook/ops"}, store.DeliveryFailure{Attempts: 3, At: t0, Error: "status 400", Dead: true}))
	require.NoError(t, s.MarkDelivered(ctx, store.DeliveryKey{EventID: "e3", Target: "webhook/ops"}, 1, t0))

	all, err := s.ListDeliveries(ctx, store.DeliveryQuery{})
	require.NoError(t, err)
	require.Len(t, all.Deliveries, 6)
	assert.Empty(t, all.Next)
	assert.Equal(t, "e6", all.Deliveries[0].EventID, "newest first")
	for i := 1; i < len(all.Deliveries); i++ {
		assert.Greater(t, all.Deliveries[i-1].ID, all.Deliveries[i].ID)
	}
	for _, d := range all.Deliveries {
		assert.Empty(t, d.Payload, "a list carries no payloads")
	}

	var paged []string
	q := store.DeliveryQuery{Analysis: "a1", Limit: 2}
	for {
		page, err := s.ListDeliveries(ctx, q)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.Deliveries), 2)
		for _, d := range page.Deliveries {
			paged = append(paged, d.EventID)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	assert.Equal(t, []string{"e5", "e4", "e3", "e2", "e1"}, paged)

	dead, err := s.ListDeliveries(ctx, store.DeliveryQuery{State: store.DeliveryDead})
	require.NoError(t, err)
	require.Len(t, dead.Deliveries, 1)
	assert.Equal(t, "e2", dead.Deliveries[0].EventID)
	assert.Equal(t, 3, dead.Deliveries[0].Attempts)
	assert.Equal(t, "status 400", dead.Deliveries[0].LastError)
	slack, err := s.ListDeliveries(ctx, store.DeliveryQuery{Target: "slack/oncall", State: store.DeliveryPending})
	require.NoError(t, err)
	require.Len(t, slack.Deliveries, 1)
	assert.Equal(t, "a2", slack.Deliveries[0].Analysis)
	_, err = s.ListDeliveries(ctx, store.DeliveryQuery{After: "not-a-cursor"})
	assert.Error(t, err)

	one, err := s.Delivery(ctx, dead.Deliveries[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "e2", one.EventID)
	assert.JSONEq(t, `{"type":"verdict.decided"}`, string(one.Payload), "one delivery carries its payload")
	_, err = s.Delivery(ctx, 1<<40)
	assert.ErrorIs(t, err, store.ErrNotFound)

	counts, err := s.CountDeliveries(ctx)
	require.NoError(t, err)
	got := map[string]map[store.DeliveryState]int{}
	for _, c := range counts {
		if got[c.Target] == nil {
			got[c.Target] = map[store.DeliveryState]int{}
		}
		got[c.Target][c.State] = c.N
	}
	assert.Equal(t, map[string]map[store.DeliveryState]int{
		"webhook/ops":  {store.DeliveryPending: 3, store.DeliveryDead: 1, store.DeliveryDelivered: 1},
		"slack/oncall": {store.DeliveryPending: 1},
	}, got)
}

// scripted answers each attempt from a script per endpoint.
type scripted struct {
	mu       sync.Mutex
	attempts map[string]int
	answer   func(endpoint string, attempt int) (bool, error)
}

func (s *scripted) emitter(endpoint string) emit.Emitter {
	return emit.EmitterFunc(func(_ context.Context, d emit.Delivery) (bool, error) {
		s.mu.Lock()
		s.attempts[d.ID+"/"+endpoint]++
		n := s.attempts[d.ID+"/"+endpoint]
		s.mu.Unlock()
		return s.answer(endpoint, n)
	})
}

// testEmitOutbox runs verdict/emit's Dispatcher on the store's outbox (through
// store.EmitOutbox): deliveries enqueued with a verdict are claimed, retried, delivered,
// declared dead, and held while their endpoint is disabled (a 410), on a fixed clock.
func testEmitOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	routes := []emit.Route{{Endpoint: "ok"}, {Endpoint: "flaky"}, {Endpoint: "gone"}, {Endpoint: "bad"}, {Endpoint: "quiet", Events: []emit.EventType{emit.Aborted}}}
	id := emit.NewID(t0)
	ds := emit.Fanout(id, emit.Decided, t0, []byte(`{"type":"analysis.decided"}`), routes)
	require.Len(t, ds, 4, "only the endpoints that want the event")
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, store.Deliveries("a1", ds)))

	ob := store.NewEmitOutbox(s)
	recs, err := ob.Claim(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Equal(t, id, recs[0].ID, "the event's id for every endpoint")
	assert.Equal(t, emit.Decided, recs[0].Type)
	assert.Equal(t, emit.Pending, recs[0].State)
	assert.JSONEq(t, `{"type":"analysis.decided"}`, string(recs[0].Payload))
	assert.True(t, recs[0].Since.Equal(t0))
	again, err := ob.Claim(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, again, "leased")
	assert.ErrorIs(t, ob.MarkDelivered(ctx, emit.Key{ID: "nope", Endpoint: "ok"}, 1, t0), emit.ErrNotFound)

	sc := &scripted{attempts: map[string]int{}, answer: func(endpoint string, n int) (bool, error) {
		switch endpoint {
		case "flaky":
			if n < 3 {
				return true, &emit.StatusError{Code: 503}
			}
		case "gone":
			return false, &emit.StatusError{Code: 410}
		case "bad":
			return false, &emit.StatusError{Code: 400}
		}
		return false, nil
	}}
	emitters := map[string]emit.Emitter{}
	for _, r := range routes {
		emitters[r.Endpoint] = sc.emitter(r.Endpoint)
	}
	// The dispatcher's clock stands after the leases above ran out; with no jitter every retry
	// is due at once.
	now := t0.Add(2 * time.Minute)
	d, err := emit.NewDispatcher(emit.Options{Outbox: ob, Emitters: emitters, Now: func() time.Time { return now }, Rand: func() float64 { return 0 }})
	require.NoError(t, err)
	drained, cancel := context.WithTimeout(ctx, time.Minute) // a bound for a hang, not a timing
	defer cancel()
	require.NoError(t, d.Drain(drained))

	byTarget := map[string]store.Delivery{}
	all, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	for _, d := range all {
		byTarget[d.Target] = d
	}
	assert.Equal(t, store.DeliveryDelivered, byTarget["ok"].State)
	assert.Equal(t, 1, byTarget["ok"].Attempts)
	assert.Equal(t, store.DeliveryDelivered, byTarget["flaky"].State)
	assert.Equal(t, 3, byTarget["flaky"].Attempts, "retried until it answered")
	assert.Equal(t, store.DeliveryDead, byTarget["bad"].State, "a 400 is never retried")
	assert.Contains(t, byTarget["bad"].LastError, "status 400")
	assert.Equal(t, store.DeliveryDead, byTarget["gone"].State)
	disabled, err := s.DisabledEndpoints(ctx)
	require.NoError(t, err)
	assert.Contains(t, disabled, "gone", "a 410 disables its endpoint")

	// A disabled endpoint's other deliveries wait, pending, and are not due.
	create(t, s, analysis("a2", "checkout", "", nil))
	later := emit.Fanout(emit.NewID(t0), emit.Decided, t0, []byte(`{}`), []emit.Route{{Endpoint: "gone"}})
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a2", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, store.Deliveries("a2", later)))
	recs, err = ob.Claim(ctx, now.Add(time.Hour), 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, recs)
	_, ok, err := ob.NextDue(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "nothing is due while the endpoint is disabled")
	require.NoError(t, s.EnableEndpoint(ctx, "gone"))
	recs, err = ob.Claim(ctx, now.Add(time.Hour), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "gone", recs[0].Endpoint)
}

// testClaimConcurrent: 4 senders claim from one outbox at the same moment, again and again
// until nothing is due: each delivery is claimed by exactly one of them.
func testClaimConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, analysis("a1", "checkout", "", nil))
	var ds []store.Delivery
	for i := range 40 {
		ds = append(ds, delivery(fmt.Sprintf("e%02d", i)))
	}
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: verdict.Promote, Data: verdictJSON(verdict.Promote), At: t0}, nil, ds))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		claims = map[string]int{}
	)
	for range 4 {
		wg.Go(func() {
			for {
				got, err := s.ClaimDeliveries(ctx, t0, 3, time.Hour)
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					claims[d.EventID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, claims, len(ds), "every delivery was claimed")
	for id, n := range claims {
		assert.Equal(t, 1, n, "%s claimed %d times", id, n)
	}
}
