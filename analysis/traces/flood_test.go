package traces

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/analysis/source"
)

// A flood of green spans, ten times MaxSpans and each with an operation name never seen before,
// evicts only older green spans and uses only green's share of the name table: every blue span
// is still held, and an operation blue starts after the flood is still its own. Spans of an
// unknown version are counted and kept nowhere, not even their names.
func TestFloodStaysInItsEnvironment(t *testing.T) {
	const maxSpans = maxNames/10 + 1 // so the flood also brings more new names than the whole table holds
	const flood = 10 * maxSpans
	r := newTestReceiver(t, Config{MaxSpans: maxSpans})
	srv := httptest.NewServer(r)
	defer srv.Close()
	send := func(td ptrace.Traces) ptraceotlp.ExportPartialSuccess {
		t.Helper()
		status, _, raw := export(t, srv, protoBody(t, td), contentProto, "")
		require.Equal(t, http.StatusOK, status, string(raw))
		resp := ptraceotlp.NewExportResponse()
		require.NoError(t, resp.UnmarshalProto(raw))
		return resp.PartialSuccess()
	}
	blue := func(op string, first int) {
		td := ptrace.NewTraces()
		spans := resource(td, "service.name", "checkout", "service.version", "v1")
		for i := first; i < first+50; i++ {
			sp{trace: i, id: i, name: op, start: time.Duration(i) * time.Millisecond, dur: 10 * time.Millisecond}.add(spans)
		}
		require.Zero(t, send(td).RejectedSpans())
	}

	blue("GET /checkout", 1)
	for first := 0; first < flood; first += maxSpans {
		td := ptrace.NewTraces()
		green := resource(td, "service.name", "checkout", "service.version", "v2")
		for i := first; i < first+maxSpans; i++ {
			sp{trace: 1000 + i, id: 1000 + i, name: fmt.Sprintf("op-%d", i), start: time.Duration(i) * time.Microsecond, dur: time.Millisecond}.add(green)
		}
		require.Zero(t, send(td).RejectedSpans())
	}
	names := r.Stats().Names
	td := ptrace.NewTraces()
	unknown := resource(td, "service.name", "intruder", "service.version", "v3")
	for i := range 1000 {
		sp{trace: 100_000 + i, id: 100_000 + i, name: fmt.Sprintf("intruder-%d", i), start: time.Second, dur: time.Millisecond}.add(unknown)
	}
	assert.EqualValues(t, 1000, send(td).RejectedSpans())
	blue("POST /orders", 51)

	st := r.Stats()
	assert.Equal(t, EnvStats{Held: 100, Accepted: 100}, st.Environments["blue"], "no blue span was evicted")
	assert.Equal(t, EnvStats{Held: maxSpans, Accepted: flood, Evicted: flood - maxSpans}, st.Environments["green"],
		"the flood evicted its own older spans")
	assert.EqualValues(t, 1000, st.Rejected)
	assert.Equal(t, names+1, st.Names, "an unknown version's names are not kept; blue's new one is")

	for _, op := range []string{"GET /checkout", "POST /orders"} {
		res, err := r.Fetch(t.Context(), OperationLatency{Operation: op}, source.Env{Name: "blue"}, source.Window{})
		require.NoError(t, err, op)
		assert.Len(t, res.Latencies, 50, op)
		assert.Empty(t, res.Warnings, op)
	}
	res, err := r.Fetch(t.Context(), OperationErrors{}, source.Env{Name: "green"}, source.Window{})
	require.NoError(t, err)
	assert.Equal(t, source.Counts{Total: maxSpans}, *res.Counts)
	assert.Equal(t, []string{
		fmt.Sprintf("green: %d spans were evicted to stay within %d, some of them started in the window: the data covers part of it", flood-maxSpans, maxSpans),
		fmt.Sprintf("more than %d distinct operation and service names: newer ones are counted as (other)", (maxNames-2)/2),
	}, res.Warnings)
}
