package jaeger

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/analysis/spans"
)

// OperationLatency asks for the durations (seconds) of the spans of one operation, or of all
// the service's spans when Operation is empty, that started in the window. Shape latencies.
type OperationLatency struct {
	Operation string
}

// Shape implements source.Query.
func (OperationLatency) Shape() source.Shape { return source.ShapeLatencies }

// OperationErrors asks for the error and total counts of the spans of one operation, or of all
// the service's spans when Operation is empty, that started in the window. Shape counts.
type OperationErrors struct {
	Operation string
}

// Shape implements source.Query.
func (OperationErrors) Shape() source.Shape { return source.ShapeCounts }

// matcher selects the spans of one environment, operation and window. Jaeger returns whole
// traces, which hold other services' spans and spans outside the window, so every span is
// checked.
type matcher struct {
	service   string
	attribute string
	values    []string // attribute values of the environment
	operation string   // empty: every operation
	from, to  int64    // start in [from, to), unix nanoseconds
}

// each calls fn for every matching span and returns how many distinct traces it saw.
func (m *matcher) each(td ptrace.Traces, fn func(ptrace.Span)) int {
	seen := map[pcommon.TraceID]struct{}{}
	for _, rs := range td.ResourceSpans().All() {
		attrs := rs.Resource().Attributes()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				seen[sp.TraceID()] = struct{}{}
			}
		}
		if !m.resource(attrs) {
			continue
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if m.span(sp) {
					fn(sp)
				}
			}
		}
	}
	return len(seen)
}

// resource reports whether a resource is the service's, in the environment.
func (m *matcher) resource(attrs pcommon.Map) bool {
	if name, ok := spans.MapValue(attrs, spans.AttrServiceName).Text(); !ok || name != m.service {
		return false
	}
	val, ok := spans.MapValue(attrs, m.attribute).Text()
	if !ok {
		return false
	}
	for _, want := range m.values {
		if val == want {
			return true
		}
	}
	return false
}

// span reports whether a span is valid (as package traces accepts spans), in the window and of
// the operation.
func (m *matcher) span(sp ptrace.Span) bool {
	if !spans.Valid(sp) {
		return false
	}
	if start := int64(sp.StartTimestamp()); start < m.from || start >= m.to {
		return false
	}
	return m.operation == "" || spans.Operation(sp) == m.operation
}

// latencies returns the matching spans' durations, how many of them are not errors, and the
// traces seen.
func (m *matcher) latencies(td ptrace.Traces) ([]float64, float64, int) {
	var lat []float64
	var ok float64
	n := m.each(td, func(sp ptrace.Span) {
		lat = append(lat, float64(sp.EndTimestamp()-sp.StartTimestamp())/1e9)
		if !spans.SpanIsError(sp) {
			ok++
		}
	})
	return lat, ok, n
}

func (m *matcher) counts(td ptrace.Traces) (source.Counts, int) {
	var c source.Counts
	n := m.each(td, func(sp ptrace.Span) {
		c.Total++
		if spans.SpanIsError(sp) {
			c.Errors++
		}
	})
	return c, n
}
