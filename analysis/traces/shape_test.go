package traces

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

// request describes the spans of one request under a GET /checkout root.
type request struct {
	selects    int // SELECT orders spans
	failSelect bool
	inventory  bool // a GET /inventory call
	extra      string
}

var checkoutRoute = map[string]any{"http.route": "/checkout", "http.request.method": "GET", "http.response.status_code": 200}

// addRequests adds n traces numbered from first to td under version. The root's parent is a
// probe's client span that is never exported, as with greenlight's synthetic traffic.
func addRequests(td ptrace.Traces, version string, first, n int, at time.Duration, req request) {
	spans := resource(td, "service.name", "checkout", "service.version", version)
	for i := first; i < first+n; i++ {
		root := i * 100
		sp{trace: i, id: root, parent: root + 99, name: "GET", start: at, dur: 50 * time.Millisecond, attrs: checkoutRoute}.add(spans)
		for j := range req.selects {
			sp{trace: i, id: root + 1 + j, parent: root, name: "SELECT orders", start: at + time.Millisecond, dur: time.Millisecond,
				failed: req.failSelect && j == req.selects-1}.add(spans)
		}
		if req.inventory {
			sp{trace: i, id: root + 50, parent: root, name: "GET", start: at + 2*time.Millisecond, dur: 5 * time.Millisecond,
				attrs: map[string]any{"http.route": "/inventory", "http.request.method": "GET"}}.add(spans)
		}
		if req.extra != "" {
			sp{trace: i, id: root + 60, parent: root, name: req.extra, start: at + 3*time.Millisecond, dur: time.Millisecond}.add(spans)
		}
	}
}

func hexTrace(n int) string {
	id := traceID(n)
	return hex.EncodeToString(id[:])
}

func TestShape(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	td := ptrace.NewTraces()
	addRequests(td, "v1", 1, 20, time.Second, request{selects: 1})
	addRequests(td, "v2", 101, 20, time.Second, request{selects: 12, failSelect: true, inventory: true})
	ingest(t, r, td)

	rep := r.Shape("blue", "green", source.Window{Start: t0, End: t0.Add(time.Minute)})
	require.Empty(t, rep.Insufficient)

	assert.Equal(t, ShapeStats{
		Environment: "blue", Traces: 20, Spans: 40,
		PerTrace: map[string]float64{"GET /checkout": 1, "SELECT orders": 1},
		Errors:   map[string]int{},
		Roots:    map[string]RootStats{"GET /checkout": {Traces: 20, PerTrace: map[string]float64{"GET /checkout": 1, "SELECT orders": 1}}},
	}, rep.Baseline)
	assert.Equal(t, ShapeStats{
		Environment: "green", Traces: 20, Spans: 280,
		PerTrace: map[string]float64{"GET /checkout": 1, "SELECT orders": 12, "GET /inventory": 1},
		Errors:   map[string]int{"SELECT orders": 20},
		Roots: map[string]RootStats{"GET /checkout": {Traces: 20,
			PerTrace: map[string]float64{"GET /checkout": 1, "SELECT orders": 12, "GET /inventory": 1}}},
	}, rep.Candidate)

	examples := []string{hexTrace(101), hexTrace(102), hexTrace(103)}
	eg := "e.g. traces " + examples[0] + ", " + examples[1] + ", " + examples[2]
	assert.Equal(t, []Finding{{
		Operation: "GET /inventory", Candidate: 20, ExampleTraceIDs: examples,
		Reason: `operation "GET /inventory" appears only in green (20 spans in 20 traces, none in blue's 20; ` + eg + `)`,
	}}, rep.NewOperations)
	assert.Equal(t, []Finding{{
		Operation: "SELECT orders", Root: "GET /checkout", Baseline: 1, Candidate: 12, ExampleTraceIDs: examples,
		Reason: `"SELECT orders" per "GET /checkout" request: green 12.0 vs blue 1.0 (×12; 20 vs 20 traces; ` + eg + `)`,
	}}, rep.Amplified)
	assert.Equal(t, []Finding{{
		Operation: "SELECT orders", Candidate: 20, ExampleTraceIDs: examples,
		Reason: `operation "SELECT orders" has error spans only in green (20 in 20 traces, none in blue's 20; ` + eg + `)`,
	}}, rep.NewErrors)

	// The same traffic both ways: nothing to report.
	same := r.Shape("blue", "blue", source.Window{})
	assert.Empty(t, same.Insufficient)
	assert.Empty(t, same.NewOperations)
	assert.Empty(t, same.Amplified)
	assert.Empty(t, same.NewErrors)
}

func TestShapeFindings(t *testing.T) {
	tests := []struct {
		name      string
		cfg       testConfig
		baseline  []request // one group of 20 traces each
		candidate []request
		newOps    []string // Root+"|"+Operation
		amplified []string
		newErrors []string
	}{
		{
			name:      "a new operation in 7 of 20 traces is reported",
			baseline:  []request{{selects: 1}},
			candidate: []request{{selects: 1, extra: "cache miss"}},
			newOps:    []string{"|cache miss"},
		},
		{
			name:      "growth below the factor is not amplification",
			baseline:  []request{{selects: 2}},
			candidate: []request{{selects: 3}},
		},
		{
			name:      "growth at a configured factor is",
			cfg:       testConfig{ShapeFactor: 1.5},
			baseline:  []request{{selects: 2}},
			candidate: []request{{selects: 3}},
			amplified: []string{"GET /checkout|SELECT orders"},
		},
		{
			name:      "errors on both sides are not new",
			baseline:  []request{{selects: 1, failSelect: true}},
			candidate: []request{{selects: 1, failSelect: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReceiver(t, tt.cfg)
			td := ptrace.NewTraces()
			for i, req := range tt.baseline {
				addRequests(td, "v1", 1000*i+1, 20, time.Second, req)
			}
			for i, req := range tt.candidate {
				n := 20
				if req.extra != "" { // only 7 of the 20 traces have the extra span
					addRequests(td, "v2", 100_000+1000*i, 7, time.Second, req)
					req.extra, n = "", 13
				}
				addRequests(td, "v2", 100_000+1000*i+500, n, time.Second, req)
			}
			ingest(t, r, td)
			rep := r.Shape("blue", "green", source.Window{})
			require.Empty(t, rep.Insufficient)
			assert.Equal(t, tt.newOps, keys(rep.NewOperations), "new operations")
			assert.Equal(t, tt.amplified, keys(rep.Amplified), "amplified")
			assert.Equal(t, tt.newErrors, keys(rep.NewErrors), "new errors")
		})
	}
}

func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Root+"|"+f.Operation)
	}
	return out
}

// A rare operation the baseline's window happened to miss is not a new call: 6 of 20 traces
// against none of 20 is too likely by chance (p = 2⁻⁶ > 1%), 7 is not (2⁻⁷ < 1%).
func TestShapeRareIsNotNew(t *testing.T) {
	for _, tc := range []struct {
		with int
		want bool
	}{{1, false}, {6, false}, {7, true}, {20, true}} {
		r := newTestReceiver(t, testConfig{})
		td := ptrace.NewTraces()
		addRequests(td, "v1", 1, 20, time.Second, request{selects: 1})
		addRequests(td, "v2", 101, tc.with, time.Second, request{selects: 1, extra: "cache miss", failSelect: true})
		addRequests(td, "v2", 201, 20-tc.with, time.Second, request{selects: 1})
		ingest(t, r, td)
		rep := r.Shape("blue", "green", source.Window{})
		assert.Equal(t, tc.want, len(rep.NewOperations) == 1, "new operation in %d of 20", tc.with)
		assert.Equal(t, tc.want, len(rep.NewErrors) == 1, "new errors in %d of 20", tc.with)
	}
}

// An operation the baseline makes for another endpoint, now made for checkout too.
func TestShapeNewUnderRoot(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	td := ptrace.NewTraces()
	addRequests(td, "v1", 1, 20, time.Second, request{selects: 1})
	products := resource(td, "service.name", "checkout", "service.version", "v1")
	for i := 501; i <= 510; i++ {
		sp{trace: i, id: i * 100, name: "GET /products", start: time.Second, dur: time.Millisecond}.add(products)
		sp{trace: i, id: i*100 + 1, parent: i * 100, name: "GET", start: time.Second, dur: time.Millisecond,
			attrs: map[string]any{"http.route": "/inventory", "http.request.method": "GET"}}.add(products)
	}
	addRequests(td, "v2", 101, 20, time.Second, request{selects: 1, inventory: true})
	ingest(t, r, td)

	rep := r.Shape("blue", "green", source.Window{})
	require.Len(t, rep.NewOperations, 1)
	f := rep.NewOperations[0]
	assert.Equal(t, "GET /inventory", f.Operation)
	assert.Equal(t, "GET /checkout", f.Root)
	assert.Equal(t, `operation "GET /inventory" appears in green's "GET /checkout" requests only (20 spans in 20 of 20 traces, none in blue's 20; `+
		"e.g. traces "+hexTrace(101)+", "+hexTrace(102)+", "+hexTrace(103)+")", f.Reason)
	assert.Empty(t, rep.Amplified)
	assert.Equal(t, 2, len(rep.Baseline.Roots))
}

func TestShapeInsufficient(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	td := ptrace.NewTraces()
	addRequests(td, "v1", 1, 5, time.Second, request{selects: 1})
	addRequests(td, "v2", 101, 20, time.Second, request{selects: 12, inventory: true})
	addRequests(td, "v1", 201, 20, time.Hour, request{selects: 1}) // outside the window
	ingest(t, r, td)

	rep := r.Shape("blue", "green", source.Window{Start: t0, End: t0.Add(time.Minute)})
	assert.Equal(t, "too few traces to compare shapes: green 20, blue 5 (need 10 each)", rep.Insufficient)
	assert.Empty(t, rep.NewOperations)
	assert.Empty(t, rep.Amplified)
	assert.Equal(t, 5, rep.Baseline.Traces)

	rep = r.Shape("blue", "red", source.Window{})
	assert.Equal(t, `no service.version value maps to environment "red" (known: "v1" (blue), "v2" (green))`, rep.Insufficient)
}

func TestExamplesKeepLargest(t *testing.T) {
	var e examples
	for i, n := range []int{1, 5, 2, 5, 9, 1} {
		e.add([16]byte{byte(i)}, n)
	}
	assert.Equal(t, [maxExamples]example{{[16]byte{4}, 9}, {[16]byte{1}, 5}, {[16]byte{3}, 5}}, e.top)
}
