package traces

import (
	"fmt"
	"net/http"

	"github.com/greenlight/greenlight/analysis/spans"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// JSON bodies are decoded by pdata (ptraceotlp), then read into records with the same rules as
// the protobuf reader. pdata builds every object before the receiver sees a span, up to 256
// bytes each, so 8 MiB of "{}," would take 700 MB; and its JSON recursion has no depth limit of
// its own. These bounds keep the first in proportion to the body (at most 16 bytes of heap per
// body byte) and the second shallow. Real exports stay well inside both: about 50 bytes of JSON
// per object, 10 levels plus the nesting of attribute values.
const (
	maxJSONDepth      = 256
	jsonBytesPerValue = 16
)

// jsonShape returns how deep the objects and arrays of b nest and how many there are. It does
// not validate: the decoder does.
func jsonShape(b []byte) (maxDepth, values int) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			values++
			depth++
			maxDepth = max(maxDepth, depth)
		case '}', ']':
			depth--
		}
	}
	return maxDepth, values
}

// addJSON decodes a JSON export request into the batch; the status says why it could not.
func (b *batch) addJSON(body []byte) (int, error) {
	depth, values := jsonShape(body)
	if depth > maxJSONDepth {
		return http.StatusBadRequest, fmt.Errorf("malformed JSON body: nested deeper than %d levels", maxJSONDepth)
	}
	if limit := b.r.cfg.MaxBodyBytes / jsonBytesPerValue; int64(values) > limit {
		return http.StatusRequestEntityTooLarge,
			fmt.Errorf("JSON body has more than %d objects and arrays: send fewer spans per request, or protobuf", limit)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(body); err != nil {
		return http.StatusBadRequest, fmt.Errorf("malformed JSON body: %w", err)
	}
	b.addTraces(req.Traces())
	return http.StatusOK, nil
}

// addTraces adds every span of td to the batch.
func (b *batch) addTraces(td ptrace.Traces) {
	var f spanFields
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		n := 0
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			n += sss.At(j).Spans().Len()
		}
		if n == 0 {
			continue
		}
		attrs := rs.Resource().Attributes()
		a := resourceAttrs{vals: b.attrValues(), service: spans.MapValue(attrs, spans.AttrServiceName)}
		for i, key := range b.rt.attrs {
			a.vals[i] = spans.MapValue(attrs, key)
		}
		to := b.resource(&a, n)
		if to == nil {
			continue
		}
		for j := range sss.Len() {
			list := sss.At(j).Spans()
			for k := range list.Len() {
				s := list.At(k)
				f = spanFields{
					trace:  s.TraceID(),
					id:     s.SpanID(),
					parent: s.ParentSpanID(),
					name:   []byte(s.Name()),
					kind:   int32(s.Kind()),
					start:  uint64(s.StartTimestamp()),
					end:    uint64(s.EndTimestamp()),
					status: int32(s.Status().Code()),
					attrs:  spans.AttrsOf(s),
				}
				b.add(to, &f)
			}
		}
	}
}
