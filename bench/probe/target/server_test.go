package target_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/bench/probe/target"
)

func TestTraceID(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"valid", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"empty", "", ""},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-01", ""},
		{"no dashes", "00x4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7x01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, target.TraceID(tt.header))
		})
	}
}

func TestServerRecordsOnlyWhileOn(t *testing.T) {
	srv := httptest.NewServer(&target.Server{})
	t.Cleanup(srv.Close)
	c := &target.Client{HTTP: srv.Client(), URL: srv.URL}
	ctx := context.Background()
	get := func(path, traceparent string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, target.Body, body)
	}

	get("/health?id=before", "")
	require.NoError(t, c.Record(ctx, true))
	get("/health?id=plain", "")
	get("/health?id=slow&delay=5ms", "")
	get("/health", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	get("/health", "") // no id: counted, not recorded
	require.NoError(t, c.Record(ctx, false))
	get("/health?id=after", "")

	st, err := c.Stats(ctx, true)
	require.NoError(t, err)
	assert.EqualValues(t, 6, st.Requests)
	got := map[string]time.Duration{}
	for _, s := range st.Samples {
		got[s.ID] = time.Duration(s.Nanos)
	}
	assert.Len(t, got, 3)
	assert.Contains(t, got, "plain")
	assert.Contains(t, got, "4bf92f3577b34da6a3ce929d0e0e4736")
	assert.GreaterOrEqual(t, got["slow"], 5*time.Millisecond, "the delay is inside the server's timing")

	st, err = c.Stats(ctx, false)
	require.NoError(t, err)
	assert.Empty(t, st.Samples)
}
