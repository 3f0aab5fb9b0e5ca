package analysis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// TestEngineStatusLimit: Get tells the running phase's limit, as the phase and tick events do,
// so that a dashboard can show elapsed against limit without reading the event stream.
func TestEngineStatusLimit(t *testing.T) {
	e := NewEngine(EngineOptions{})
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	id, _, err := e.Start(plan(t, engineSpec(t, "limited", "minDuration: 10m, maxDuration: 12m"), okServer(t)), StartOptions{})
	require.NoError(t, err)
	sub, err := e.Subscribe(id, 0)
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		ev, _, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.Kind == EventTick {
			break
		}
	}
	st, err := e.Get(id)
	require.NoError(t, err)
	assert.Equal(t, verdict.PhaseAnalysis, st.Phase)
	assert.Equal(t, 12*time.Minute, st.Limit)
}
