package traces

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// named is a record with its names resolved, comparable across receivers.
type named struct {
	key        string
	trace      string
	id, parent string
	start, dur int64
	op, svc    string
	kind       uint8
	err        bool
}

func resolve(b *batch) []named {
	var out []named
	for ks, kb := range b.keys {
		ns := ks.names.snapshot()
		for _, s := range kb.spans {
			out = append(out, named{ks.key.String(), hex.EncodeToString(s.trace[:]), hex.EncodeToString(s.id[:]), hex.EncodeToString(s.parent[:]),
				s.start, s.dur, ns[s.op], ns[s.svc], s.kind, s.err})
		}
	}
	slices.SortStableFunc(out, func(a, b named) int { return strings.Compare(a.key, b.key) })
	return out
}

// viaPdata reads a protobuf body the slow way: pdata's decoder, then the pdata reader.
func viaPdata(t testing.TB, body []byte) (*standalone, *batch, error) {
	r := newTestReceiver(t, testConfig{})
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		return r, nil, err
	}
	b := r.newBatch(r.routes.Load())
	b.addTraces(req.Traces())
	return r, b, nil
}

// viaWire reads a protobuf body with the receiver's own reader.
func viaWire(t testing.TB, body []byte) (*standalone, *batch, error) {
	r := newTestReceiver(t, testConfig{})
	b := r.newBatch(r.routes.Load())
	err := b.addProto(body)
	return r, b, err
}

// sameAsPdata asserts that a body pdata decodes is read into the same records and tally.
func sameAsPdata(t testing.TB, body []byte) (pdataOK bool) {
	_, pb, perr := viaPdata(t, body)
	_, wb, werr := viaWire(t, body)
	if perr != nil {
		return false
	}
	require.NoError(t, werr, "pdata decodes this body")
	assert.Equal(t, resolve(pb), resolve(wb))
	assert.Equal(t, pb.tally, wb.tally)
	return true
}

// Hand-built protobuf, for what pdata's encoder never writes.
func pbLen(num int, payload []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(num)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func pbVarint(num int, v uint64) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(nil, uint64(num)<<3), v)
}

func pbFixed64(num int, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(binary.AppendUvarint(nil, uint64(num)<<3|1), v)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func pbStrAttr(key, v string) []byte {
	return pbLen(1, cat(pbLen(1, []byte(key)), pbLen(2, pbLen(1, []byte(v)))))
}

func pbSpan(trace, id int, name string, extra ...[]byte) []byte {
	tid, sid := traceID(trace), spanID(id)
	start := uint64(t0.Add(time.Second).UnixNano())
	return cat(append([][]byte{pbLen(1, tid[:]), pbLen(2, sid[:]), pbLen(5, []byte(name)),
		pbFixed64(7, start), pbFixed64(8, start+1e6)}, extra...)...)
}

// rspans builds a request of one ResourceSpans from its fields.
func rspans(fields ...[]byte) []byte { return pbLen(1, cat(fields...)) }

// res builds a ResourceSpans.resource field from KeyValue fields.
func res(attrs ...[]byte) []byte { return pbLen(1, cat(attrs...)) }

// scope builds a ResourceSpans.scope_spans field (or another field number) from spans.
func scope(num int, spans ...[]byte) []byte {
	var b []byte
	for _, s := range spans {
		b = append(b, pbLen(2, s)...)
	}
	return pbLen(num, b)
}

// spanAttr builds a Span.attributes field with a raw AnyValue.
func spanAttr(key string, anyValue []byte) []byte {
	return pbLen(9, cat(pbLen(1, []byte(key)), pbLen(2, anyValue)))
}

func TestProtoMatchesPdata(t *testing.T) {
	v1 := res(pbStrAttr("service.version", "v1"))
	str := func(s string) []byte { return pbLen(1, []byte(s)) }
	tests := []struct {
		name    string
		body    []byte
		pdataOK bool
	}{
		{"realistic", protoBody(t, realistic("v1", 1, time.Second)), true},
		{"mixed environments", protoBody(t, twoEnvs("service.version")), true},
		{"resource after the spans", rspans(scope(2, pbSpan(1, 1, "a")), v1), true},
		{"resource split in two", rspans(res(pbStrAttr("service.name", "x")), scope(2, pbSpan(1, 1, "a")),
			res(pbStrAttr("service.name", "y"), pbStrAttr("service.version", "v2"))), true},
		{"deprecated instrumentation library spans", rspans(v1, scope(1000, pbSpan(1, 1, "old"))), true},
		{"deprecated ignored beside scope spans", rspans(v1, scope(2, pbSpan(1, 1, "new")), scope(1000, pbSpan(2, 2, "old"))), true},
		{"first attribute key wins", rspans(v1, scope(2, pbSpan(1, 1, "h", spanAttr("http.route", str("/a")), spanAttr("http.route", str("/b"))))), true},
		{"an empty value still takes the key", rspans(v1, scope(2, pbSpan(1, 1, "h", spanAttr("http.route", nil), spanAttr("http.route", str("/b"))))), true},
		{"last value field wins", rspans(v1, scope(2, pbSpan(1, 1, "h", spanAttr("http.response.status_code", cat(str("200"), pbVarint(3, 503)))))), true},
		{"int version", rspans(res(pbLen(1, cat(pbLen(1, []byte("service.version")), pbLen(2, pbVarint(3, 1))))), scope(2, pbSpan(1, 1, "a"))), true},
		{"status merged", rspans(v1, scope(2, pbSpan(1, 1, "s", pbLen(15, pbVarint(3, 2)), pbLen(15, pbLen(2, []byte("boom")))))), true},
		{"status code truncated to int32", rspans(v1, scope(2, pbSpan(1, 1, "s", pbLen(15, pbVarint(3, 1<<32|2))))), true},
		{"unknown fields and an empty group", rspans(v1, pbVarint(77, 5), []byte{0xa3, 0x05, 0xa4, 0x05},
			scope(2, pbSpan(1, 1, "a", pbFixed64(99, 1)))), true},
		// pdata's skipping ends a group at its first field; so does the reader's.
		{"a group with a field", rspans(v1, []byte{0xa3, 0x05, 0x08, 0x01, 0xa4, 0x05}, scope(2, pbSpan(1, 1, "a"))), false},
		{"max start time", rspans(v1, scope(2, pbSpan(1, 1, "a", pbFixed64(7, math.MaxUint64)))), true},
		{"span id of 7 bytes", rspans(v1, scope(2, pbSpan(1, 1, "a", pbLen(2, make([]byte, 7))))), false},
		{"kind as a fixed64", rspans(v1, scope(2, pbSpan(1, 1, "a", pbFixed64(6, 1)))), false},
		{"truncated", protoBody(t, twoEnvs("service.version"))[:50], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.pdataOK, sameAsPdata(t, tt.body), "pdata decodes it")
		})
	}
}

// FuzzProtoMatchesPdata: whatever pdata decodes, the wire reader reads into the same records,
// and no body makes it panic.
func FuzzProtoMatchesPdata(f *testing.F) {
	f.Add(protoBody(f, realistic("v1", 1, time.Second)))
	f.Add(protoBody(f, twoEnvs("service.version")))
	td := ptrace.NewTraces()
	addRequests(td, "v2", 1, 2, time.Second, request{selects: 2, failSelect: true, inventory: true})
	f.Add(protoBody(f, td))
	f.Add(rspans(res(pbStrAttr("service.version", "v1")), scope(1000, pbSpan(1, 1, "old"))))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsPdata(t, body)
	})
}
