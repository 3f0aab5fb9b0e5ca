package analysis

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsOwnTheirChecks: a tick event's checks are its own, not the verdict's, which the run
// redacts in place as it finishes while subscribers (the daemon's store writer, verify's live
// view) may still be reading the event.
func TestEventsOwnTheirChecks(t *testing.T) {
	url := okServer(t)
	e := NewEngine(EngineOptions{})
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	// Decided at a tick (promote, or undecided at maxDuration): the verdict takes that tick's checks.
	id, _, err := e.Start(plan(t, engineSpec(t, "own", "minDuration: 200ms, maxDuration: 1s, onInconclusive: hold"), url), StartOptions{})
	require.NoError(t, err)
	sub, err := e.Subscribe(id, 0)
	require.NoError(t, err)
	defer sub.Close()
	var last *Event
	for {
		ev, _, err := sub.Next(context.Background())
		if err != nil {
			break
		}
		if ev.Kind == EventTick {
			last = &ev
		}
	}
	v, err := e.Wait(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, last)
	require.NotEmpty(t, v.Checks)
	require.Equal(t, v.Checks[0].Reason, last.Checks[0].Reason, "the verdict has the last tick's outcomes")
	v.Checks[0].Reason = "changed after the event"
	assert.NotEqual(t, "changed after the event", last.Checks[0].Reason)
}
