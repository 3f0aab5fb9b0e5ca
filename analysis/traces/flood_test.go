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
	const maxSpans = maxNewNames/10 + 1 // so the flood also brings more new names than a key's table holds
	const flood = 10 * maxSpans
	r := newTestReceiver(t, testConfig{MaxSpans: maxSpans})
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
		fmt.Sprintf("more than %d distinct operation and service names: newer ones are counted as (other)", maxNewNames),
	}, res.Warnings)
}

// On a shared receiver the budgets are per key, whichever view wants it: a flood for one
// analysis's candidate (v2, each span a new operation name) evicts only v2's older spans and
// fills only v2's name table; the other analysis's keys, and the same analysis's baseline, keep
// every span and still learn new names.
func TestFloodStaysInItsKey(t *testing.T) {
	const maxSpans = maxNewNames/10 + 1
	const flood = 10 * maxSpans
	r := newShared(t, Config{MaxSpans: maxSpans})
	a := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue", "v2": "green"}})
	b := openView(t, r, ViewConfig{Attribute: "deployment.environment.name", Values: map[string]string{"b-blue": "blue", "b-green": "green"}})
	steady := func(op string, first int) {
		td := ptrace.NewTraces()
		spansOf(td, first, 50, op, "service.version", "v1")
		spansOf(td, first+1000, 50, op, "deployment.environment.name", "b-blue")
		spansOf(td, first+2000, 50, op, "deployment.environment.name", "b-green")
		require.Zero(t, send(t, r, td, false).RejectedSpans())
	}
	steady("GET /checkout", 1)
	for first := 0; first < flood; first += maxSpans {
		td := ptrace.NewTraces()
		green := resource(td, "service.version", "v2")
		for i := first; i < first+maxSpans; i++ {
			sp{trace: 10_000 + i, id: 10_000 + i, name: fmt.Sprintf("op-%d", i), start: time.Duration(i) * time.Microsecond, dur: time.Millisecond}.add(green)
		}
		require.Zero(t, send(t, r, td, false).RejectedSpans())
	}
	steady("POST /orders", 51)

	st := r.Stats()
	for _, k := range []Key{{"service.version", "v1"}, {"deployment.environment.name", "b-blue"}, {"deployment.environment.name", "b-green"}} {
		assert.Equal(t, EnvStats{Held: 100, Accepted: 100}, st.Keys[k], "%s: no span evicted", k)
	}
	assert.Equal(t, EnvStats{Held: maxSpans, Accepted: flood, Evicted: flood - maxSpans}, st.Keys[Key{"service.version", "v2"}])

	for _, c := range []struct {
		v   *View
		env string
	}{{a, "blue"}, {b, "blue"}, {b, "green"}} {
		for _, op := range []string{"GET /checkout", "POST /orders"} {
			res, err := c.v.Fetch(t.Context(), OperationLatency{Operation: op}, source.Env{Name: c.env}, source.Window{})
			require.NoError(t, err, "%v %s %s", c.v.Keys(), c.env, op)
			assert.Len(t, res.Latencies, 50)
			assert.Empty(t, res.Warnings, "%v %s %s", c.v.Keys(), c.env, op)
		}
	}
	res, err := a.Fetch(t.Context(), OperationErrors{}, source.Env{Name: "green"}, source.Window{})
	require.NoError(t, err)
	assert.Equal(t, source.Counts{Total: maxSpans}, *res.Counts)
	assert.Equal(t, []string{
		fmt.Sprintf("green: %d spans were evicted to stay within %d, some of them started in the window: the data covers part of it", flood-maxSpans, maxSpans),
		fmt.Sprintf("more than %d distinct operation and service names: newer ones are counted as (other)", maxNewNames),
	}, res.Warnings)
}
