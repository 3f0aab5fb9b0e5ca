package emit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict/emit"
)

func delivery(id, endpoint string) emit.Delivery {
	return emit.Delivery{ID: id, Endpoint: endpoint, Type: emit.Decided, Timestamp: t0, Payload: []byte(`{"id":"` + id + `"}`)}
}

func TestMemoryEnqueueIsIdempotent(t *testing.T) {
	m := emit.NewMemory()
	require.NoError(t, m.Enqueue(t0, delivery("a", "hook")))
	require.NoError(t, m.MarkDelivered(t.Context(), emit.Key{ID: "a", Endpoint: "hook"}, 1, t0))
	require.NoError(t, m.Enqueue(t0.Add(time.Minute), delivery("a", "hook"), delivery("a", "slack")))
	recs := m.List()
	require.Len(t, recs, 2)
	assert.Equal(t, emit.Delivered, recs[0].State, "a second enqueue of the same event leaves the first as it was")
	assert.Equal(t, emit.Pending, recs[1].State)
	assert.Equal(t, "slack", recs[1].Endpoint)

	err := m.Enqueue(t0, emit.Delivery{ID: "", Endpoint: "hook"})
	assert.ErrorContains(t, err, "needs an id and an endpoint")
}

func TestMemoryClaimLeases(t *testing.T) {
	ctx := t.Context()
	m := emit.NewMemory()
	require.NoError(t, m.Enqueue(t0, delivery("a", "hook"), delivery("b", "hook")))
	require.NoError(t, m.Enqueue(t0.Add(time.Second), delivery("c", "hook")))

	got, err := m.Claim(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids(got), "only what is due")

	got, err = m.Claim(ctx, t0.Add(time.Second), 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, ids(got), "leased ones are not claimed twice")

	at, ok, err := m.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, t0.Add(time.Minute), at, "a leased delivery is due when its lease runs out")

	got, err = m.Claim(ctx, t0.Add(time.Minute), 1, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(got), "an expired lease makes it claimable again, up to the limit")

	require.NoError(t, m.MarkFailed(ctx, emit.Key{ID: "b", Endpoint: "hook"}, emit.Failure{Attempts: 1, At: t0, Error: "status 500", Next: t0.Add(5 * time.Minute)}))
	r, ok := m.Get(emit.Key{ID: "b", Endpoint: "hook"})
	require.True(t, ok)
	assert.Equal(t, emit.Pending, r.State)
	assert.Equal(t, 1, r.Attempts)
	assert.Equal(t, "status 500", r.LastError)
	assert.Equal(t, t0.Add(5*time.Minute), r.NextAttempt)

	assert.ErrorIs(t, m.MarkDelivered(ctx, emit.Key{ID: "zz", Endpoint: "hook"}, 1, t0), emit.ErrNotFound)
	assert.ErrorIs(t, m.MarkFailed(ctx, emit.Key{ID: "zz", Endpoint: "hook"}, emit.Failure{}), emit.ErrNotFound)
}

func TestMemoryDisabledEndpointAndRedelivery(t *testing.T) {
	ctx := t.Context()
	m := emit.NewMemory()
	require.NoError(t, m.Enqueue(t0, delivery("a", "gone"), delivery("b", "gone"), delivery("c", "ok")))
	require.NoError(t, m.DisableEndpoint(ctx, "gone", "status 410", t0))
	assert.Equal(t, map[string]string{"gone": "status 410"}, m.Disabled())

	got, err := m.Claim(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, ids(got))
	require.NoError(t, m.MarkDelivered(ctx, got[0].Key(), 1, t0))
	_, ok, err := m.NextDue(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "a disabled endpoint's deliveries are not due")

	m.EnableEndpoint("gone")
	got, err = m.Claim(ctx, t0, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids(got), "enabled again: its pending deliveries go")

	require.NoError(t, m.MarkFailed(ctx, got[0].Key(), emit.Failure{Attempts: 3, At: t0, Error: "status 400", Dead: true}))
	r, _ := m.Get(got[0].Key())
	assert.Equal(t, emit.Dead, r.State)
	assert.Equal(t, "status 400", r.LastError, "a dead delivery keeps its last error")

	later := t0.Add(time.Hour)
	require.NoError(t, m.Redeliver(got[0].Key(), later))
	r, _ = m.Get(got[0].Key())
	assert.Equal(t, emit.Pending, r.State)
	assert.Equal(t, 0, r.Attempts, "a redelivery starts a new retry window")
	assert.Equal(t, later, r.Since)
	assert.Equal(t, later, r.NextAttempt)
	assert.ErrorIs(t, m.Redeliver(emit.Key{ID: "zz", Endpoint: "ok"}, later), emit.ErrNotFound)
}

func ids(rs []emit.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestEventTypes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"decided", "analysis.decided"},
		{"analysis.watch_regression", "analysis.watch_regression"},
		{"smoke_done", "analysis.smoke_done"},
	} {
		got, err := emit.ParseEventType(tt.in)
		require.NoError(t, err)
		assert.Equal(t, emit.EventType(tt.want), got)
		assert.True(t, got.Valid())
	}
	_, err := emit.ParseEventType("finished")
	assert.ErrorContains(t, err, `unknown event type "finished"`)
	assert.False(t, emit.EventType("analysis.finished").Valid())
}

func TestFanout(t *testing.T) {
	routes := []emit.Route{
		{Endpoint: "all"},
		{Endpoint: "decisions", Events: []emit.EventType{emit.Decided, emit.Overridden}},
		{Endpoint: "starts", Events: []emit.EventType{emit.Started}},
	}
	ds := emit.Fanout("evt_1", emit.Decided, t0, []byte("{}"), routes)
	require.Len(t, ds, 2)
	assert.Equal(t, "all", ds[0].Endpoint)
	assert.Equal(t, "decisions", ds[1].Endpoint)
	assert.Equal(t, ds[0].ID, ds[1].ID, "one event, one id, whatever the endpoint")
}

func TestNewID(t *testing.T) {
	a := emit.NewID(t0)
	b := emit.NewID(t0.Add(time.Millisecond))
	assert.Regexp(t, `^evt_[0-9A-HJKMNP-TV-Z]{26}$`, a)
	assert.Less(t, a, b, "ids sort by time")
	assert.NotEqual(t, emit.NewID(t0), emit.NewID(t0), "random within one millisecond")
}
