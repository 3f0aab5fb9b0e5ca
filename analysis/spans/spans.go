// Package spans holds the rules by which greenlight reads an OpenTelemetry span, whoever
// received it: which attributes it looks at (current and older semantic-convention names),
// how a span names its operation, when it is an error, and when its ids and times are valid.
// Package traces (greenlight's own OTLP receiver, which decodes the wire format itself) and
// package jaeger (which reads Jaeger's OTLP JSON through pdata) both apply these rules, so an
// operation or an error means the same from either source.
//
// It knows nothing of environments, checks or verdicts.
package spans

import (
	"bytes"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attribute keys read from resources and spans (OpenTelemetry semantic conventions, current and
// older names).
const (
	AttrServiceName   = "service.name"
	AttrRoute         = "http.route"
	AttrMethod        = "http.request.method"
	AttrMethodOld     = "http.method"
	AttrStatusCode    = "http.response.status_code"
	AttrStatusCodeOld = "http.status_code"
)

// StatusError is the span status code ERROR.
const StatusError = 2

// Kind is the type of an attribute value, as far as the rules care.
type Kind uint8

const (
	None  Kind = iota // the key is absent
	Str               // string
	Int               // int64
	Float             // double
	Bool              // bool
	Other             // bytes, array, map, empty
)

// Value is one attribute value. Str may alias a request body while it is being read.
type Value struct {
	Kind Kind
	Str  []byte
	Num  int64 // int, or bool as 0/1
	F    float64
}

// Text is the value as an environment or service name: strings as they are, numbers and
// booleans formatted; other kinds have none.
func (v Value) Text() (string, bool) {
	switch v.Kind {
	case Str:
		return string(v.Str), true
	case Int:
		return strconv.FormatInt(v.Num, 10), true
	case Float:
		return strconv.FormatFloat(v.F, 'g', -1, 64), true
	case Bool:
		return strconv.FormatBool(v.Num != 0), true
	}
	return "", false
}

// Attrs are the span attributes that name an operation and mark an error.
type Attrs struct {
	Route, Method, MethodOld, Code, CodeOld Value
}

// Set records v under key if the key is one of interest and not set yet: the first occurrence
// of a key wins, as in pcommon.Map.Get.
func (a *Attrs) Set(key []byte, v Value) {
	var dst *Value
	switch string(key) {
	case AttrRoute:
		dst = &a.Route
	case AttrMethod:
		dst = &a.Method
	case AttrMethodOld:
		dst = &a.MethodOld
	case AttrStatusCode:
		dst = &a.Code
	case AttrStatusCodeOld:
		dst = &a.CodeOld
	default:
		return
	}
	if dst.Kind == None {
		*dst = v
	}
}

// AppendOperation appends the span's operation name to dst: "METHOD route" when the span has an
// http.route (so probes and real traffic group by route, whatever the span is named), else the
// span name.
func (a *Attrs) AppendOperation(dst, name []byte) []byte {
	if a.Route.Kind != Str || len(a.Route.Str) == 0 {
		return append(dst, name...)
	}
	method := a.Method
	if method.Kind == None {
		method = a.MethodOld
	}
	if method.Kind == Str && len(method.Str) > 0 {
		dst = append(dst, method.Str...)
		dst = append(dst, ' ')
	}
	return append(dst, a.Route.Str...)
}

// ServerError reports an HTTP response status code of 500 or more.
func (a *Attrs) ServerError() bool {
	v := a.Code
	if v.Kind == None {
		v = a.CodeOld
	}
	switch v.Kind {
	case Int:
		return v.Num >= 500
	case Float:
		return v.F >= 500
	case Str:
		code, err := strconv.Atoi(string(bytes.TrimSpace(v.Str)))
		return err == nil && code >= 500
	}
	return false
}

// IsError reports a span with status ERROR or an HTTP response status code of 500 or more.
func IsError(status int32, a *Attrs) bool {
	return status == StatusError || a.ServerError()
}

// ValidTimes reports whether a span's start and end (unix nanoseconds) make a span: a start,
// an end not before it, and both within int64.
func ValidTimes(start, end uint64) bool {
	return start != 0 && end >= start && end <= math.MaxInt64
}

// ValidIDs reports whether a span has a trace id and a span id.
func ValidIDs(trace [16]byte, span [8]byte) bool {
	return trace != [16]byte{} && span != [8]byte{}
}

// MapValue reads one attribute of a pdata map.
func MapValue(m pcommon.Map, key string) Value {
	v, ok := m.Get(key)
	if !ok {
		return Value{}
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return Value{Kind: Str, Str: []byte(v.Str())}
	case pcommon.ValueTypeInt:
		return Value{Kind: Int, Num: v.Int()}
	case pcommon.ValueTypeDouble:
		return Value{Kind: Float, F: v.Double()}
	case pcommon.ValueTypeBool:
		var n int64
		if v.Bool() {
			n = 1
		}
		return Value{Kind: Bool, Num: n}
	}
	return Value{Kind: Other}
}

// AttrsOf reads the attributes the rules use from a pdata span.
func AttrsOf(sp ptrace.Span) Attrs {
	m := sp.Attributes()
	return Attrs{
		Route:     MapValue(m, AttrRoute),
		Method:    MapValue(m, AttrMethod),
		MethodOld: MapValue(m, AttrMethodOld),
		Code:      MapValue(m, AttrStatusCode),
		CodeOld:   MapValue(m, AttrStatusCodeOld),
	}
}

// Operation is a pdata span's operation name (see Attrs.AppendOperation).
func Operation(sp ptrace.Span) string {
	a := AttrsOf(sp)
	return string(a.AppendOperation(nil, []byte(sp.Name())))
}

// SpanIsError reports whether a pdata span is an error (see IsError).
func SpanIsError(sp ptrace.Span) bool {
	a := AttrsOf(sp)
	return IsError(int32(sp.Status().Code()), &a)
}

// Valid reports whether a pdata span has valid ids and times (see ValidIDs, ValidTimes).
func Valid(sp ptrace.Span) bool {
	return ValidIDs(sp.TraceID(), sp.SpanID()) && ValidTimes(uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp()))
}
