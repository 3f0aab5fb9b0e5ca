package server

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples/app"
)

// TestEventsResume follows an analysis's events to its verdict, then reconnects with
// Last-Event-ID as a browser's EventSource does: the stream goes on exactly after that event.
func TestEventsResume(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	a := d.start(writeToken, fastOn(blue, green, ""))
	all := d.events("/api/v1/analyses/"+a.ID+"/events", readToken, "").untilVerdict(t)
	require.GreaterOrEqual(t, len(all), 3, "phase, smoke step, verdict at least")
	for i, e := range all {
		assert.Equal(t, strconv.Itoa(i+1), e.ID, "ids are the analysis's sequence numbers, without gaps")
		assert.Equal(t, uint64(i+1), e.Data.Seq)
		assert.Equal(t, a.ID, e.Data.Analysis)
		assert.Equal(t, e.Event, e.Data.Kind)
	}
	assert.Equal(t, "phase", all[0].Event)
	final := all[len(all)-1]
	require.NotNil(t, final.Data.Verdict)
	assert.Equal(t, "rollback", string(final.Data.Verdict.Decision))

	resumed := d.events("/api/v1/analyses/"+a.ID+"/events", readToken, all[1].ID).untilVerdict(t)
	assert.Equal(t, all[2:], resumed)

	// The global stream has its own order; resuming it works the same way.
	global := d.events("/api/v1/events", readToken, "").untilVerdict(t)
	require.Len(t, global, len(all))
	id1, err := strconv.Atoi(global[0].ID)
	require.NoError(t, err)
	more := d.events("/api/v1/events", readToken, strconv.Itoa(id1)).untilVerdict(t)
	assert.Equal(t, global[1:], more)

	status, _ := d.call("GET", "/api/v1/analyses/"+a.ID+"/events?lastEventId=x", readToken, nil)
	assert.Equal(t, http.StatusBadRequest, status)
}

// TestEventsLive: a stream opened before anything happens receives the events as they are
// committed, and heartbeats while idle.
func TestEventsLive(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{opts: func(o *Options) { o.Heartbeat = 10 * time.Millisecond }})
	stream := d.events("/api/v1/events", "", "")
	a := d.start("", fastOn(blue, green, ""))
	evs := stream.untilVerdict(t)
	assert.Equal(t, a.ID, evs[0].Data.Analysis)
	idle := d.events("/api/v1/events", "", strconv.Itoa(1<<40))
	for len(idle.comments) < 2 {
		// An idle stream has nothing but heartbeats; read past two of them.
		require.True(t, idle.sc.Scan())
		if text := idle.sc.Text(); len(text) > 0 && text[0] == ':' {
			idle.comments = append(idle.comments, text)
		}
	}
	assert.Equal(t, ": heartbeat", idle.comments[0])
}

// TestDecidedTicksThinned: a decided analysis keeps its other events and at most
// DecidedTicks+1 of its ticks, evenly spread; its last tick is among them.
func TestDecidedTicksThinned(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{opts: func(o *Options) {
		o.DecidedTicks = 3
		o.Plan = func(ao *analysis.Options) { ao.Tick = 20 * time.Millisecond }
	}})
	a := d.start("", longOn(blue, green))
	stream := d.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	var ticks []sseEvent
	for len(ticks) < 10 {
		if e := stream.next(t); e.Event == "tick" {
			ticks = append(ticks, e)
		}
	}
	d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/abort", "", abortRequest{Reason: "enough ticks"}, http.StatusOK, nil)
	evs, err := d.store.EventsAfter(t.Context(), a.ID, 0, 0)
	require.NoError(t, err)
	kept := 0
	kinds := map[string]bool{}
	for _, e := range evs {
		kinds[e.Kind] = true
		if e.Kind == "tick" {
			kept++
		}
	}
	assert.LessOrEqual(t, kept, 4)
	assert.GreaterOrEqual(t, kept, 2, "the oldest and the newest at least")
	assert.True(t, kinds["phase"] && kinds["verdict"], "other events are kept: %v", kinds)
}
