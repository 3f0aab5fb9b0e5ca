package jaeger

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
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

// Attribute keys read from spans and resources (OpenTelemetry semantic conventions, current
// and older names), as package traces reads them.
const (
	attrServiceName   = "service.name"
	attrRoute         = "http.route"
	attrMethod        = "http.request.method"
	attrMethodOld     = "http.method"
	attrStatusCode    = "http.response.status_code"
	attrStatusCodeOld = "http.status_code"
)

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
	svc, ok := attrs.Get(attrServiceName)
	if !ok {
		return false
	}
	if name, ok := text(svc); !ok || name != m.service {
		return false
	}
	v, ok := attrs.Get(m.attribute)
	if !ok {
		return false
	}
	val, ok := text(v)
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
	if sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
		return false
	}
	start, end := uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
	if start == 0 || end < start || end > 1<<63-1 {
		return false
	}
	if int64(start) < m.from || int64(start) >= m.to {
		return false
	}
	return m.operation == "" || operation(sp) == m.operation
}

// latencies returns the matching spans' durations, how many of them are not errors, and the
// traces seen.
func (m *matcher) latencies(td ptrace.Traces) ([]float64, float64, int) {
	var lat []float64
	var ok float64
	n := m.each(td, func(sp ptrace.Span) {
		lat = append(lat, float64(sp.EndTimestamp()-sp.StartTimestamp())/1e9)
		if !isError(sp) {
			ok++
		}
	})
	return lat, ok, n
}

func (m *matcher) counts(td ptrace.Traces) (source.Counts, int) {
	var c source.Counts
	n := m.each(td, func(sp ptrace.Span) {
		c.Total++
		if isError(sp) {
			c.Errors++
		}
	})
	return c, n
}

// text is a value as an environment or service name: strings as they are, numbers and booleans
// formatted; other kinds have none.
func text(v pcommon.Value) (string, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str(), true
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10), true
	case pcommon.ValueTypeDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64), true
	case pcommon.ValueTypeBool:
		return strconv.FormatBool(v.Bool()), true
	}
	return "", false
}

// operation names a span: "METHOD route" when it has an http.route (so probes and real traffic
// group by route, whatever the span is named), else the span name.
func operation(sp ptrace.Span) string {
	attrs := sp.Attributes()
	route, ok := attrs.Get(attrRoute)
	if !ok || route.Type() != pcommon.ValueTypeStr || route.Str() == "" {
		return sp.Name()
	}
	method, ok := attrs.Get(attrMethod)
	if !ok {
		method, ok = attrs.Get(attrMethodOld)
	}
	if ok && method.Type() == pcommon.ValueTypeStr && method.Str() != "" {
		return method.Str() + " " + route.Str()
	}
	return route.Str()
}

// isError reports a span with status ERROR or an HTTP response status code of 500 or more.
func isError(sp ptrace.Span) bool {
	if sp.Status().Code() == ptrace.StatusCodeError {
		return true
	}
	attrs := sp.Attributes()
	v, ok := attrs.Get(attrStatusCode)
	if !ok {
		v, ok = attrs.Get(attrStatusCodeOld)
	}
	if !ok {
		return false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int() >= 500
	case pcommon.ValueTypeDouble:
		return v.Double() >= 500
	case pcommon.ValueTypeStr:
		code, err := strconv.Atoi(strings.TrimSpace(v.Str()))
		return err == nil && code >= 500
	}
	return false
}
