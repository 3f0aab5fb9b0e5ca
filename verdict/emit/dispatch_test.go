package emit_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict/emit"
)

// script is an emitter that answers each attempt with the next scripted outcome (the last
// one repeats) and records when each attempt was made.
type script struct {
	mu       sync.Mutex
	outcomes map[string][]error // by delivery id; nil error = accepted
	attempts map[string][]time.Time
}

func newScript() *script {
	return &script{outcomes: map[string][]error{}, attempts: map[string][]time.Time{}}
}

func (s *script) on(id string, errs ...error) *script { s.outcomes[id] = errs; return s }

func (s *script) Emit(_ context.Context, d emit.Delivery) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.attempts[d.ID])
	s.attempts[d.ID] = append(s.attempts[d.ID], time.Now())
	outs := s.outcomes[d.ID]
	if len(outs) == 0 {
		return false, nil
	}
	err := outs[min(n, len(outs)-1)]
	if err == nil {
		return false, nil
	}
	var se *emit.StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == 429, err
	}
	return true, err // a transport error
}

func (s *script) times(id string) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, at := range s.attempts[id] {
		out = append(out, at.Sub(bubbleStart))
	}
	return out
}

// bubbleStart is the fake clock's start inside a synctest bubble.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func status(code int, retryAfter string) error {
	return &emit.StatusError{Code: code, RetryAfter: retryAfter}
}

// testPolicy with Rand fixed at 0.5 waits exactly half of each backoff ceiling: 5s, 10s, 20s…
var testPolicy = emit.Policy{MinBackoff: 10 * time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 5, MaxAge: time.Hour}

func newDispatcher(t *testing.T, m emit.Outbox, emitters map[string]emit.Emitter, workers int) *emit.Dispatcher {
	t.Helper()
	d, err := emit.NewDispatcher(emit.Options{
		Outbox: m, Emitters: emitters, Policy: testPolicy, Workers: workers,
		Rand: func() float64 { return 0.5 },
	})
	require.NoError(t, err)
	return d
}

func record(t *testing.T, m *emit.Memory, id, endpoint string) emit.Record {
	t.Helper()
	r, ok := m.Get(emit.Key{ID: id, Endpoint: endpoint})
	require.True(t, ok, "%s to %s", id, endpoint)
	return r
}

func TestDispatcherRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript().
			on("flaky", status(503, ""), errors.New("dial tcp: connection refused"), nil).
			on("throttled", status(429, "60"), nil).
			on("dated", status(503, bubbleStart.Add(2*time.Minute).Format(http.TimeFormat)), nil)
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("flaky", "hook"), delivery("throttled", "hook"), delivery("dated", "hook")))
		require.NoError(t, newDispatcher(t, m, map[string]emit.Emitter{"hook": s}, 4).Drain(t.Context()))

		assert.Equal(t, []time.Duration{0, 5 * time.Second, 15 * time.Second}, s.times("flaky"), "backoff 5s then 10s")
		assert.Equal(t, []time.Duration{0, time.Minute}, s.times("throttled"), "Retry-After in seconds honoured")
		assert.Equal(t, []time.Duration{0, 2 * time.Minute}, s.times("dated"), "Retry-After as an HTTP-date honoured")
		r := record(t, m, "flaky", "hook")
		assert.Equal(t, emit.Delivered, r.State)
		assert.Equal(t, 3, r.Attempts)
		assert.WithinDuration(t, bubbleStart.Add(15*time.Second), r.DoneAt, 0)
		assert.Empty(t, r.LastError)
	})
}

func TestDispatcherGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript().
			on("bad-request", status(400, ""), nil).
			on("always-down", status(502, "")).
			on("slow-down", status(429, "7200"))
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("bad-request", "hook"), delivery("always-down", "hook"), delivery("slow-down", "hook")))
		require.NoError(t, newDispatcher(t, m, map[string]emit.Emitter{"hook": s}, 4).Drain(t.Context()))

		assert.Len(t, s.times("bad-request"), 1, "a 4xx is never retried")
		r := record(t, m, "bad-request", "hook")
		assert.Equal(t, emit.Dead, r.State)
		assert.Equal(t, "status 400 Bad Request", r.LastError)

		assert.Equal(t, []time.Duration{0, 5 * time.Second, 15 * time.Second, 35 * time.Second, 75 * time.Second}, s.times("always-down"), "MaxAttempts attempts, then dead")
		r = record(t, m, "always-down", "hook")
		assert.Equal(t, emit.Dead, r.State)
		assert.Equal(t, 5, r.Attempts)
		assert.Equal(t, "status 502 Bad Gateway", r.LastError)

		assert.Len(t, s.times("slow-down"), 1, "a Retry-After past MaxAge: dead rather than hammering")
		assert.Equal(t, emit.Dead, record(t, m, "slow-down", "hook").State)
	})
}

func TestDispatcherGoneDisablesEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gone := newScript().on("g1", status(410, ""))
		ok := newScript()
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("g1", "gone"), delivery("g2", "gone"), delivery("g3", "gone")))
		require.NoError(t, m.Enqueue(time.Now(), delivery("o1", "ok")))
		// One worker: g1 is answered 410 before g2 or g3 could be claimed.
		require.NoError(t, newDispatcher(t, m, map[string]emit.Emitter{"gone": gone, "ok": ok}, 1).Drain(t.Context()))

		assert.Len(t, gone.times("g1"), 1)
		assert.Empty(t, gone.times("g2"), "nothing goes to a disabled endpoint")
		assert.Empty(t, gone.times("g3"))
		assert.Contains(t, m.Disabled(), "gone")
		assert.Contains(t, m.Disabled()["gone"], "410")
		assert.Equal(t, emit.Dead, record(t, m, "g1", "gone").State)
		assert.Equal(t, emit.Pending, record(t, m, "g2", "gone").State, "kept until the endpoint is enabled again")
		assert.Equal(t, emit.Delivered, record(t, m, "o1", "ok").State, "other endpoints unaffected")
	})
}

func TestDispatcherUnknownEndpointIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("a", "removed")))
		require.NoError(t, newDispatcher(t, m, nil, 1).Drain(t.Context()))
		r := record(t, m, "a", "removed")
		assert.Equal(t, emit.Dead, r.State)
		assert.Equal(t, testPolicy.MaxAttempts, r.Attempts, "retried: a reload may bring the endpoint back")
		assert.Equal(t, `no endpoint named "removed" is configured`, r.LastError)
	})
}

func TestDispatcherPicksUpReloadedEmitters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("a", "added")))
		d := newDispatcher(t, m, map[string]emit.Emitter{}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		r := record(t, m, "a", "added")
		assert.Equal(t, 1, r.Attempts, "no emitter yet: a failed attempt")
		assert.Equal(t, emit.Pending, r.State)

		s := newScript()
		d.SetEmitters(map[string]emit.Emitter{"added": s})
		time.Sleep(5 * time.Second) // the retry's backoff
		synctest.Wait()
		assert.Equal(t, []time.Duration{5 * time.Second}, s.times("a"), "the reloaded emitter makes the retry")
		assert.Equal(t, emit.Delivered, record(t, m, "a", "added").State)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestDispatcherStopsWithoutRecordingACutAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		hang := emit.EmitterFunc(func(ctx context.Context, _ emit.Delivery) (bool, error) {
			close(started)
			<-ctx.Done()
			return true, ctx.Err()
		})
		m := emit.NewMemory()
		require.NoError(t, m.Enqueue(time.Now(), delivery("a", "hook")))
		d := newDispatcher(t, m, map[string]emit.Emitter{"hook": hang}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		<-started
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled, "Run returns once the attempt in flight ended")
		r := record(t, m, "a", "hook")
		assert.Equal(t, emit.Pending, r.State)
		assert.Equal(t, 0, r.Attempts, "an attempt cut by shutdown is not held against the endpoint")
		assert.Empty(t, r.LastError)
	})
}

func TestDispatcherRunPicksUpNewDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript()
		m := emit.NewMemory()
		d := newDispatcher(t, m, map[string]emit.Emitter{"hook": s}, 2)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(time.Second)
		require.NoError(t, m.Enqueue(time.Now(), delivery("notified", "hook")))
		d.Notify()
		synctest.Wait()
		assert.Equal(t, []time.Duration{time.Second}, s.times("notified"), "Notify: delivered at once")

		require.NoError(t, m.Enqueue(time.Now(), delivery("polled", "hook")))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.Equal(t, []time.Duration{31 * time.Second}, s.times("polled"), "without Notify: at the next poll")

		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestDispatcherBoundsAttemptsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		inFlight, most := 0, 0
		slow := emit.EmitterFunc(func(context.Context, emit.Delivery) (bool, error) {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			inFlight--
			mu.Unlock()
			return false, nil
		})
		m := emit.NewMemory()
		for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			require.NoError(t, m.Enqueue(time.Now(), delivery(id, "hook")))
		}
		start := time.Now()
		require.NoError(t, newDispatcher(t, m, map[string]emit.Emitter{"hook": slow}, 3).Drain(t.Context()))
		assert.Equal(t, 3, most)
		assert.Equal(t, 3*time.Second, time.Since(start), "7 one-second attempts on 3 workers")
		for _, r := range m.List() {
			assert.Equal(t, emit.Delivered, r.State, r.ID)
		}
	})
}

func TestNewDispatcherChecksOptions(t *testing.T) {
	_, err := emit.NewDispatcher(emit.Options{})
	assert.ErrorContains(t, err, "no outbox")
	_, err = emit.NewDispatcher(emit.Options{Outbox: emit.NewMemory(), Policy: emit.Policy{MinBackoff: time.Second}})
	assert.ErrorContains(t, err, "maxAttempts must be at least 1")
}
