package traces

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/analysis/source"
)

func newShared(t testing.TB, cfg Config) *Receiver {
	t.Helper()
	r, err := NewReceiver(cfg, nil)
	require.NoError(t, err)
	return r
}

func openView(t testing.TB, r *Receiver, cfg ViewConfig) *View {
	t.Helper()
	v, err := r.View(cfg)
	require.NoError(t, err)
	return v
}

// send posts td as protobuf (or JSON) and returns the partial success of a 200.
func send(t testing.TB, h http.Handler, td ptrace.Traces, asJSON bool) ptraceotlp.ExportPartialSuccess {
	t.Helper()
	body, ct := protoBody(t, td), contentProto
	if asJSON {
		body, ct = jsonBody(t, td), contentJSON
	}
	w := post(h, body, ct, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp := ptraceotlp.NewExportResponse()
	if asJSON {
		require.NoError(t, resp.UnmarshalJSON(w.Body.Bytes()))
	} else {
		require.NoError(t, resp.UnmarshalProto(w.Body.Bytes()))
	}
	return resp.PartialSuccess()
}

// spansOf adds n one-span traces named op, numbered from first, under a resource with attrs.
func spansOf(td ptrace.Traces, first, n int, op string, attrs ...string) {
	spans := resource(td, attrs...)
	for i := first; i < first+n; i++ {
		sp{trace: i, id: i, name: op, start: time.Duration(i) * time.Millisecond, dur: time.Millisecond}.add(spans)
	}
}

// total counts a view's spans of env, or 0 when it has none.
func total(t *testing.T, v *View, env string) int {
	t.Helper()
	res, err := v.Fetch(t.Context(), OperationErrors{}, source.Env{Name: env}, source.Window{})
	if err != nil {
		require.ErrorIs(t, err, source.ErrNoData)
		return 0
	}
	return int(res.Counts.Total)
}

// Three analyses on one receiver: two by service.version that share the key "v2" in different
// roles, one by deployment.environment.name. Each view sees the spans of its own keys, whichever
// attribute carries them; a resource that matches keys of both attributes feeds both; spans no
// view wants are rejected and counted.
func TestViewsShareOneReceiver(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			r := newShared(t, Config{})
			a := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue", "v2": "green"}})
			c := openView(t, r, ViewConfig{Values: map[string]string{"v2": "blue", "v3": "green"}})
			d := openView(t, r, ViewConfig{Attribute: "deployment.environment.name",
				Values: map[string]string{"prod-blue": "blue", "prod-green": "green"}})

			td := ptrace.NewTraces()
			spansOf(td, 1, 3, "GET /a", "service.version", "v1")
			spansOf(td, 10, 5, "GET /a", "service.version", "v2", "deployment.environment.name", "prod-green")
			spansOf(td, 20, 7, "GET /a", "service.version", "v3")
			spansOf(td, 30, 2, "GET /a", "deployment.environment.name", "prod-blue")
			spansOf(td, 40, 4, "GET /a", "service.version", "v9")
			spansOf(td, 50, 1, "GET /a", "service.name", "no-key")
			ps := send(t, r, td, asJSON)
			assert.EqualValues(t, 5, ps.RejectedSpans())
			assert.Equal(t, `rejected 5 of 22 spans: 1 from resources without deployment.environment.name or service.version; `+
				`4 from resources whose deployment.environment.name or service.version (service.version="v9") is not one of `+
				`deployment.environment.name="prod-blue" (blue), deployment.environment.name="prod-green" (green), `+
				`service.version="v1" (blue), service.version="v2" (blue, green), service.version="v3" (green)`, ps.ErrorMessage())

			for _, tt := range []struct {
				v           *View
				blue, green int
			}{{a, 3, 5}, {c, 5, 7}, {d, 2, 5}} {
				assert.Equal(t, tt.blue, total(t, tt.v, "blue"), "%v", tt.v.Keys())
				assert.Equal(t, tt.green, total(t, tt.v, "green"), "%v", tt.v.Keys())
			}
			st := r.Stats()
			assert.Equal(t, 3, st.Views)
			assert.EqualValues(t, 5, st.Rejected)
			assert.Len(t, st.Keys, 5, "v2 is one key for both views that want it")
			assert.Equal(t, EnvStats{Held: 5, Accepted: 5}, st.Keys[Key{"service.version", "v2"}])
			assert.Equal(t, ViewStats{Environments: map[string]EnvStats{"blue": {Held: 3, Accepted: 3}, "green": {Held: 5, Accepted: 5}},
				Rejected: 5, Names: 2}, a.Stats(), "names: GET /a and no service name in each key")
		})
	}
}

// A closed view stops receiving: its values are rejected once no other view wants them, its
// token is no more, and it still answers from what it held. A key two views share lives until
// both have closed; with no view open, every span is rejected.
func TestViewCloseStopsReceiving(t *testing.T) {
	r := newShared(t, Config{})
	a := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue", "v2": "green"}})
	c := openView(t, r, ViewConfig{Values: map[string]string{"v2": "blue", "v3": "green"}})
	batch := func(first int) ptrace.Traces {
		td := ptrace.NewTraces()
		for i, v := range []string{"v1", "v2", "v3"} {
			spansOf(td, first+10*i, 2, "GET /a", "service.version", v)
		}
		return td
	}
	require.Zero(t, send(t, r, batch(100), false).RejectedSpans())

	c.Close()
	c.Close() // twice is harmless
	ps := send(t, r, batch(200), false)
	assert.EqualValues(t, 2, ps.RejectedSpans())
	assert.Equal(t, `rejected 2 of 6 spans: 2 from resources whose service.version ("v3") is not one of "v1" (blue), "v2" (green)`, ps.ErrorMessage())
	assert.Equal(t, 4, total(t, a, "green"), "v2 lives on for a")
	assert.Equal(t, 2, total(t, c, "green"), "a closed view answers from what it held")
	assert.Equal(t, 4, total(t, c, "blue"), "it shares v2 with a, which is still open")
	assert.NotContains(t, r.Stats().Keys, Key{"service.version", "v3"})

	a.Close()
	ps = send(t, r, batch(300), false)
	assert.EqualValues(t, 6, ps.RejectedSpans())
	assert.Equal(t, "rejected 6 of 6 spans: 6 while no analysis receives traces", ps.ErrorMessage())
	assert.Empty(t, r.Stats().Keys)
	assert.Zero(t, r.Stats().Views)
	assert.Equal(t, 4, total(t, a, "blue"))

	// A new view of v3 starts empty: nothing of what came while no one wanted it was kept.
	e := openView(t, r, ViewConfig{Values: map[string]string{"v3": "green"}})
	defer e.Close()
	assert.Zero(t, total(t, e, "green"))
}

// Views over the attributes they ask for: MaxKeys bounds the keys the open views want; a key
// another view holds costs nothing, and a closed view's keys make room again.
func TestViewMaxKeys(t *testing.T) {
	r := newShared(t, Config{MaxKeys: 3})
	a := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue", "v2": "green"}})
	_, err := r.View(ViewConfig{Values: map[string]string{"v3": "blue", "v4": "green"}})
	require.ErrorIs(t, err, ErrTooManyKeys)
	assert.EqualError(t, err, "trace receiver: too many keys: 2 keys are open, the view asks for 2 more, at most 3")
	b := openView(t, r, ViewConfig{Values: map[string]string{"v2": "blue", "v3": "green"}})
	assert.Len(t, r.Stats().Keys, 3)
	a.Close()
	b.Close()
	c := openView(t, r, ViewConfig{Values: map[string]string{"v3": "blue", "v4": "green", "v5": "green"}})
	c.Close()
}

// The rejection message lists at most 16 wanted values.
func TestRejectionListsFewKnownValues(t *testing.T) {
	r := newShared(t, Config{})
	for i := range 20 {
		defer openView(t, r, ViewConfig{Values: map[string]string{fmt.Sprintf("v%02d", i): "green"}}).Close()
	}
	td := ptrace.NewTraces()
	spansOf(td, 1, 1, "GET /a", "service.version", "nope")
	ps := send(t, r, td, false)
	assert.Regexp(t, `^rejected 1 of 1 spans: 1 from resources whose service.version \("nope"\) is not one of `+
		`"v00" \(green\), ("v\d\d" \(green\), ){14}"v15" \(green\) and 4 more$`, ps.ErrorMessage())
}

// An environment may have several values: its spans are in several keys, each with its own
// names, and Shape and Fetch read them as one.
func TestViewEnvironmentOverSeveralKeys(t *testing.T) {
	r := newShared(t, Config{})
	v := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue", "v1.1": "blue", "v2": "green"}})
	td := ptrace.NewTraces()
	// v1.1 learns a name first that v1 never sees, so the same operation has other ids there.
	spansOf(td, 900, 1, "warm-up", "service.version", "v1.1")
	addRequests(td, "v1", 1, 10, time.Second, request{selects: 1})
	addRequests(td, "v1.1", 11, 10, time.Second, request{selects: 1})
	addRequests(td, "v2", 101, 20, time.Second, request{selects: 1})
	ingest(t, r, td)

	rep := v.Shape("blue", "green", source.Window{Start: t0.Add(time.Second)})
	require.Empty(t, rep.Insufficient)
	assert.Equal(t, 20, rep.Baseline.Traces)
	assert.Equal(t, map[string]float64{"GET /checkout": 1, "SELECT orders": 1}, rep.Baseline.PerTrace)
	assert.Empty(t, rep.NewOperations)
	assert.Empty(t, rep.Amplified)
	res, err := v.Fetch(t.Context(), OperationLatency{Operation: "SELECT orders"}, source.Env{Name: "blue"}, source.Window{})
	require.NoError(t, err)
	assert.Len(t, res.Latencies, 20)
}

// Views open and close while requests arrive (under -race): a view open throughout gets every
// span of its keys, exactly once.
func TestViewsComeAndGoUnderLoad(t *testing.T) {
	r := newShared(t, Config{})
	steady := openView(t, r, ViewConfig{Values: map[string]string{"steady-blue": "blue", "steady-green": "green"}})
	const senders, batches = 4, 50
	bodies := make([][]byte, senders*batches)
	for i := range bodies {
		td := ptrace.NewTraces()
		spansOf(td, i*10, 3, "GET /a", "service.version", "steady-green")
		spansOf(td, i*10+5, 2, "GET /a", "service.version", fmt.Sprintf("churn-%d", i%5))
		bodies[i] = protoBody(t, td)
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for b := range batches {
				w := post(r, bodies[s*batches+b], contentProto, "")
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			v, err := r.View(ViewConfig{Values: map[string]string{fmt.Sprintf("churn-%d", i%5): "green"}})
			if !assert.NoError(t, err) {
				return
			}
			_, _ = v.Fetch(t.Context(), OperationErrors{}, source.Env{Name: "green"}, source.Window{})
			_ = v.Shape("green", "green", source.Window{})
			v.Close()
		}
	})
	wg.Wait()
	assert.Equal(t, senders*batches*3, total(t, steady, "green"))
	assert.Equal(t, 1, r.Stats().Views)
	assert.Len(t, r.Stats().Keys, 2)
}
