package spans

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestRules: a span's operation and error status, read through pdata (as Jaeger's answers are)
// and attribute by attribute (as the receiver decodes the wire format), come out the same.
func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		span   string
		attrs  map[string]any
		status ptrace.StatusCode
		op     string
		err    bool
	}{
		{name: "span name without a route", span: "SELECT orders", op: "SELECT orders"},
		{name: "method and route", span: "GET", attrs: map[string]any{AttrRoute: "/orders/{id}", AttrMethod: "GET"}, op: "GET /orders/{id}"},
		{name: "older method name", span: "x", attrs: map[string]any{AttrRoute: "/a", AttrMethodOld: "POST"}, op: "POST /a"},
		{name: "current method wins over older", span: "x", attrs: map[string]any{AttrRoute: "/a", AttrMethod: "PUT", AttrMethodOld: "POST"}, op: "PUT /a"},
		{name: "route without method", span: "x", attrs: map[string]any{AttrRoute: "/a"}, op: "/a"},
		{name: "empty route is no route", span: "x", attrs: map[string]any{AttrRoute: "", AttrMethod: "GET"}, op: "x"},
		{name: "non-string route is no route", span: "x", attrs: map[string]any{AttrRoute: int64(3)}, op: "x"},
		{name: "status ERROR", span: "x", status: ptrace.StatusCodeError, op: "x", err: true},
		{name: "500 as int", span: "x", attrs: map[string]any{AttrStatusCode: int64(500)}, op: "x", err: true},
		{name: "499 is no error", span: "x", attrs: map[string]any{AttrStatusCode: int64(499)}, op: "x"},
		{name: "503 as text", span: "x", attrs: map[string]any{AttrStatusCodeOld: " 503 "}, op: "x", err: true},
		{name: "502 as double", span: "x", attrs: map[string]any{AttrStatusCode: 502.0}, op: "x", err: true},
		{name: "current code wins over older", span: "x", attrs: map[string]any{AttrStatusCode: int64(200), AttrStatusCodeOld: int64(500)}, op: "x"},
		{name: "status OK with 200", span: "x", status: ptrace.StatusCodeOk, attrs: map[string]any{AttrStatusCode: int64(200)}, op: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := ptrace.NewSpan()
			sp.SetName(tt.span)
			sp.Status().SetCode(tt.status)
			assert.NoError(t, sp.Attributes().FromRaw(tt.attrs))

			assert.Equal(t, tt.op, Operation(sp), "pdata")
			assert.Equal(t, tt.err, SpanIsError(sp), "pdata")

			var a Attrs
			for k, v := range sp.Attributes().All() {
				m := pcommon.NewMap()
				v.CopyTo(m.PutEmpty(k))
				a.Set([]byte(k), MapValue(m, k))
			}
			assert.Equal(t, tt.op, string(a.AppendOperation(nil, []byte(tt.span))), "attribute by attribute")
			assert.Equal(t, tt.err, IsError(int32(tt.status), &a), "attribute by attribute")
		})
	}
}

func TestFirstAttributeWins(t *testing.T) {
	var a Attrs
	a.Set([]byte(AttrRoute), Value{Kind: Str, Str: []byte("/first")})
	a.Set([]byte(AttrRoute), Value{Kind: Str, Str: []byte("/second")})
	a.Set([]byte("other"), Value{Kind: Str, Str: []byte("ignored")})
	assert.Equal(t, "/first", string(a.AppendOperation(nil, []byte("x"))))
}

func TestValid(t *testing.T) {
	id := [16]byte{1}
	sid := [8]byte{1}
	assert.True(t, ValidIDs(id, sid))
	assert.False(t, ValidIDs([16]byte{}, sid))
	assert.False(t, ValidIDs(id, [8]byte{}))
	assert.True(t, ValidTimes(1, 1))
	assert.False(t, ValidTimes(0, 5), "no start")
	assert.False(t, ValidTimes(5, 4), "end before start")
	assert.False(t, ValidTimes(5, math.MaxInt64+1), "beyond int64")
}

func TestText(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		want string
		ok   bool
	}{
		{Value{Kind: Str, Str: []byte("v1")}, "v1", true},
		{Value{Kind: Int, Num: 2}, "2", true},
		{Value{Kind: Float, F: 1.5}, "1.5", true},
		{Value{Kind: Bool, Num: 1}, "true", true},
		{Value{Kind: Other}, "", false},
		{Value{}, "", false},
	} {
		got, ok := tt.v.Text()
		assert.Equal(t, tt.want, got)
		assert.Equal(t, tt.ok, ok)
	}
}
