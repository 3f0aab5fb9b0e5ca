package traces

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

// fetchFixture: blue has GET /checkout at 1s, 2s, 3s (10, 20, 30 ms; the 3s one a 500) and
// SELECT orders at 2s (5 ms) from service db; green has nothing.
func fetchFixture(t *testing.T) *standalone {
	r := newTestReceiver(t, testConfig{})
	td := ptrace.NewTraces()
	web := resource(td, "service.name", "web", "service.version", "v1")
	route := func(code int) map[string]any {
		return map[string]any{"http.route": "/checkout", "http.request.method": "GET", "http.response.status_code": code}
	}
	sp{trace: 1, id: 1, name: "GET", start: 1 * time.Second, dur: 10 * time.Millisecond, attrs: route(200)}.add(web)
	sp{trace: 2, id: 2, name: "GET", start: 2 * time.Second, dur: 20 * time.Millisecond, attrs: route(200)}.add(web)
	sp{trace: 3, id: 3, name: "GET", start: 3 * time.Second, dur: 30 * time.Millisecond, attrs: route(500)}.add(web)
	db := resource(td, "service.name", "db", "service.version", "v1")
	sp{trace: 2, id: 4, parent: 2, name: "SELECT orders", start: 2 * time.Second, dur: 5 * time.Millisecond}.add(db)
	ingest(t, r, td)
	return r
}

func TestFetch(t *testing.T) {
	r := fetchFixture(t)
	blue := source.Env{Name: "blue", Role: "baseline"}
	all := source.Window{}
	tests := []struct {
		name   string
		q      source.Query
		w      source.Window
		lat    []float64
		counts *source.Counts
	}{
		{"latency of one operation", OperationLatency{Operation: "GET /checkout"}, all, []float64{0.01, 0.02, 0.03}, nil},
		{"latency of all", OperationLatency{}, all, []float64{0.01, 0.02, 0.03, 0.005}, nil},
		{"latency by pointer", &OperationLatency{Operation: "SELECT orders"}, all, []float64{0.005}, nil},
		{"latency of a service", OperationLatency{Service: "db"}, all, []float64{0.005}, nil},
		{"errors of one operation", OperationErrors{Operation: "GET /checkout"}, all, nil, &source.Counts{Errors: 1, Total: 3}},
		{"errors of all", &OperationErrors{}, all, nil, &source.Counts{Errors: 1, Total: 4}},
		{"errors of a service", OperationErrors{Service: "web"}, all, nil, &source.Counts{Errors: 1, Total: 3}},
		{"window from 2s", OperationLatency{Operation: "GET /checkout"}, source.Window{Start: t0.Add(2 * time.Second)}, []float64{0.02, 0.03}, nil},
		{"window [1s, 3s)", OperationErrors{}, source.Window{Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)}, nil, &source.Counts{Total: 3}},
		{"window to 2s", OperationLatency{}, source.Window{End: t0.Add(2 * time.Second)}, []float64{0.01}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Fetch(t.Context(), tt.q, blue, tt.w)
			require.NoError(t, err)
			assert.Empty(t, res.Warnings)
			if tt.lat != nil {
				assert.Nil(t, res.Counts)
				assert.ElementsMatch(t, tt.lat, res.Latencies)
			} else {
				assert.Nil(t, res.Latencies)
				assert.Equal(t, tt.counts, res.Counts)
			}
		})
	}
}

func TestFetchNoData(t *testing.T) {
	r := fetchFixture(t)
	tests := []struct {
		name   string
		q      source.Query
		env    string
		w      source.Window
		reason string
	}{
		{"empty environment", OperationLatency{}, "green", source.Window{}, "no spans in the window [-∞, +∞)"},
		{"unknown operation", OperationErrors{Operation: "GET /nope"}, "blue", source.Window{}, `no spans of operation "GET /nope" in the window`},
		{"operation of another service", OperationErrors{Operation: "SELECT orders", Service: "web"}, "blue", source.Window{},
			`no spans of operation "SELECT orders" from service "web" in the window`},
		{"window after the spans", OperationLatency{Operation: "GET /checkout"}, "blue", source.Window{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)},
			"in the window [2026-03-01T13:00:00Z, 2026-03-01T14:00:00Z)"},
		{"window before the spans", OperationErrors{}, "blue", source.Window{Start: t0, End: t0.Add(time.Second)}, "no spans in the window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Fetch(t.Context(), tt.q, source.Env{Name: tt.env}, tt.w)
			require.ErrorIs(t, err, source.ErrNoData)
			var se *source.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, SourceName, se.Source)
			assert.Equal(t, tt.env, se.Env)
			assert.True(t, se.Retryable)
			assert.Contains(t, se.Reason, tt.reason)
			assert.Equal(t, source.Result{}, res)
		})
	}
}

type otherQuery struct{}

func (otherQuery) Shape() source.Shape { return source.ShapeValues }

func TestFetchFailures(t *testing.T) {
	r := fetchFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		q      source.Query
		env    string
		target error
		reason string
	}{
		{"unknown environment", t.Context(), OperationLatency{}, "red", ErrUnknownEnvironment,
			`no service.version value maps to environment "red" (known: "v1" (blue), "v2" (green))`},
		{"unsupported query", t.Context(), otherQuery{}, "blue", nil, "unsupported query traces.otherQuery"},
		{"nil query", t.Context(), (*OperationLatency)(nil), "blue", nil, "unsupported query *traces.OperationLatency"},
		{"cancelled", ctx, OperationLatency{}, "blue", context.Canceled, "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Fetch(tt.ctx, tt.q, source.Env{Name: tt.env}, source.Window{})
			var se *source.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.reason, se.Reason)
			assert.NotErrorIs(t, err, source.ErrNoData)
			if tt.target != nil {
				assert.ErrorIs(t, err, tt.target)
			}
		})
	}
}

func TestQueryShapes(t *testing.T) {
	assert.Equal(t, source.ShapeLatencies, OperationLatency{}.Shape())
	assert.Equal(t, source.ShapeCounts, OperationErrors{}.Shape())
}
