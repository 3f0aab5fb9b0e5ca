package traces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/greenlight/greenlight/analysis/spans"
)

// The protobuf encoding is read straight from the wire into records instead of through pdata.
// pdata builds every span, attribute and event as Go objects first: a 2-byte empty span costs
// about 250 bytes, so 8 MiB of them would take 700 MB to reject. This reader allocates only the
// records it keeps (64 bytes for at least 46 bytes of accepted span on the wire), skips what it
// does not need, and follows pdata's rules for what it reads (wire types, id lengths, unknown
// fields, merged messages, last value wins, first attribute key wins): a request pdata decodes
// is read here into the same records (see the differential fuzz test).
//
// Field numbers are those of opentelemetry/proto/collector/trace/v1 and trace/v1.

type wireType int8

const (
	wireVarint     wireType = 0
	wireI64        wireType = 1
	wireLen        wireType = 2
	wireStartGroup wireType = 3
	wireEndGroup   wireType = 4
	wireI32        wireType = 5
)

var (
	errVarintOverflow  = errors.New("varint overflows 64 bits")
	errInvalidLength   = errors.New("invalid length")
	errEndGroup        = errors.New("unexpected end of group")
	errTraceIDLength   = errors.New("trace id is not 16 bytes")
	errSpanIDLength    = errors.New("span id is not 8 bytes")
	errIllegalWireType = errors.New("illegal wire type")
)

// field is one field read from a message. For wireLen, val is the payload; for the fixed and
// varint types, num is the value.
type field struct {
	num  int32
	wire wireType
	u    uint64
	val  []byte
}

// fields iterates over the fields of a protobuf message.
type fields struct {
	b   []byte
	pos int
	err error
}

// next reads the next field; false at the end or on an error (see err). Fields of other wire
// types than varint, fixed and len (groups) are skipped as pdata skips unknown fields.
func (m *fields) next(f *field) bool {
	for m.pos < len(m.b) && m.err == nil {
		tag, pos, err := uvarint(m.b, m.pos)
		if err != nil {
			m.err = err
			return false
		}
		f.num, f.wire, m.pos = int32(tag>>3), wireType(tag&7), pos
		if f.num <= 0 {
			m.err = fmt.Errorf("illegal field number %d", f.num)
			return false
		}
		switch f.wire {
		case wireVarint:
			f.u, m.pos, m.err = uvarint(m.b, m.pos)
		case wireI64:
			if m.pos+8 > len(m.b) {
				m.err = io.ErrUnexpectedEOF
			} else {
				f.u = binary.LittleEndian.Uint64(m.b[m.pos:])
				m.pos += 8
			}
		case wireI32:
			if m.pos+4 > len(m.b) {
				m.err = io.ErrUnexpectedEOF
			} else {
				f.u = uint64(binary.LittleEndian.Uint32(m.b[m.pos:]))
				m.pos += 4
			}
		case wireLen:
			var n uint64
			n, m.pos, m.err = uvarint(m.b, m.pos)
			switch {
			case m.err != nil:
			case int(n) < 0:
				m.err = errInvalidLength
			case m.pos+int(n) < 0 || m.pos+int(n) > len(m.b):
				m.err = io.ErrUnexpectedEOF
			default:
				f.val = m.b[m.pos : m.pos+int(n)]
				m.pos += int(n)
			}
		default:
			m.pos, m.err = skipGroup(m.b, m.pos, f.wire)
			continue
		}
		return m.err == nil
	}
	return false
}

// skipGroup skips a field of a group wire type, or fails on an illegal one, exactly as pdata's
// proto.ConsumeUnknown does: a field of another type inside the group ends it.
func skipGroup(b []byte, pos int, wt wireType) (int, error) {
	depth := 0
	var err error
	for pos < len(b) {
		switch wt {
		case wireVarint:
			_, pos, err = uvarint(b, pos)
			return pos, err
		case wireI64:
			if pos+8 > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos + 8, nil
		case wireLen:
			var n uint64
			if n, pos, err = uvarint(b, pos); err != nil {
				return 0, err
			}
			if int(n) < 0 {
				return 0, errInvalidLength
			}
			if pos+int(n) < 0 || pos+int(n) > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos + int(n), nil
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return 0, errEndGroup
			}
			depth--
		case wireI32:
			if pos+4 > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos + 4, nil
		default:
			return 0, errIllegalWireType
		}
		if depth == 0 {
			return pos, nil
		}
		var tag uint64
		if tag, pos, err = uvarint(b, pos); err != nil {
			return 0, err
		}
		if int32(tag>>3) <= 0 {
			return 0, fmt.Errorf("illegal field number %d", int32(tag>>3))
		}
		wt = wireType(tag & 7)
	}
	return 0, io.ErrUnexpectedEOF
}

func uvarint(b []byte, pos int) (uint64, int, error) {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errVarintOverflow
		}
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, pos, nil
		}
	}
}

// wrongWire is the error of a known field sent with another wire type.
func wrongWire(msg string, f *field) error {
	return fmt.Errorf("wrong wire type %d for %s field %d", f.wire, msg, f.num)
}

// addProto reads an ExportTraceServiceRequest into the batch.
func (b *batch) addProto(body []byte) error {
	m := fields{b: body}
	var f field
	for m.next(&f) {
		if f.num == 1 { // resource_spans
			if f.wire != wireLen {
				return wrongWire("ExportTraceServiceRequest", &f)
			}
			if err := b.resourceSpans(f.val); err != nil {
				return err
			}
		}
	}
	return m.err
}

// resourceSpans reads one ResourceSpans: its resource first (it may come after the spans on
// the wire, and may be split over several fields that merge), then its spans.
func (b *batch) resourceSpans(msg []byte) error {
	a := resourceAttrs{vals: b.attrValues()}
	scopes, n := 0, 0
	m := fields{b: msg}
	var f field
	for m.next(&f) {
		switch f.num {
		case 1: // resource
			if f.wire != wireLen {
				return wrongWire("ResourceSpans", &f)
			}
			if err := b.resourceAttrs(f.val, &a); err != nil {
				return err
			}
		case 2, 1000: // scope_spans; instrumentation_library_spans, read only when there are no scope_spans
			if f.wire != wireLen {
				return wrongWire("ResourceSpans", &f)
			}
			if f.num == 2 {
				scopes++
			}
		}
	}
	if m.err != nil {
		return m.err
	}
	use := int32(2)
	if scopes == 0 {
		use = 1000
	}
	// Count the spans first: the resource's routing covers them all, and a rejected resource's
	// spans need not be read.
	for m = (fields{b: msg}); m.next(&f); {
		if f.num == use {
			k, err := b.scopeSpans(f.val, nil)
			if err != nil {
				return err
			}
			n += k
		}
	}
	if m.err != nil || n == 0 {
		return m.err
	}
	to := b.resource(&a, n)
	if to == nil {
		return nil
	}
	for m = (fields{b: msg}); m.next(&f); {
		if f.num == use {
			if _, err := b.scopeSpans(f.val, to); err != nil {
				return err
			}
		}
	}
	return m.err
}

// resourceAttrs reads a Resource's attributes of interest into a.
func (b *batch) resourceAttrs(msg []byte, a *resourceAttrs) error {
	m := fields{b: msg}
	var f field
	for m.next(&f) {
		if f.num != 1 { // attributes
			continue
		}
		if f.wire != wireLen {
			return wrongWire("Resource", &f)
		}
		key, v, err := keyValue(f.val)
		if err != nil {
			return err
		}
		if i, ok := b.rt.index[string(key)]; ok && a.vals[i].Kind == spans.None {
			a.vals[i] = v
		}
		if string(key) == spans.AttrServiceName && a.service.Kind == spans.None {
			a.service = v
		}
	}
	return m.err
}

// scopeSpans reads a ScopeSpans: with no targets it only counts the spans; else it adds them to
// every target's key.
func (b *batch) scopeSpans(msg []byte, to []target) (int, error) {
	n := 0
	m := fields{b: msg}
	var f, sf field
	var s spanFields
	for m.next(&f) {
		if f.num != 2 { // spans
			continue
		}
		if f.wire != wireLen {
			return 0, wrongWire("ScopeSpans", &f)
		}
		n++
		if to == nil {
			continue
		}
		if err := readSpan(f.val, &s, &sf); err != nil {
			return 0, err
		}
		b.add(to, &s)
	}
	return n, m.err
}

// readSpan reads the fields of a Span the receiver keeps; f is scratch.
func readSpan(msg []byte, s *spanFields, f *field) error {
	*s = spanFields{}
	m := fields{b: msg}
	for m.next(f) {
		switch f.num {
		case 1, 2, 4, 5, 9, 15: // trace_id, span_id, parent_span_id, name, attributes, status
			if f.wire != wireLen {
				return wrongWire("Span", f)
			}
		case 6: // kind
			if f.wire != wireVarint {
				return wrongWire("Span", f)
			}
		case 7, 8: // start_time_unix_nano, end_time_unix_nano
			if f.wire != wireI64 {
				return wrongWire("Span", f)
			}
		}
		switch f.num {
		case 1:
			if err := readID(s.trace[:], f.val, errTraceIDLength); err != nil {
				return err
			}
		case 2:
			if err := readID(s.id[:], f.val, errSpanIDLength); err != nil {
				return err
			}
		case 4:
			if err := readID(s.parent[:], f.val, errSpanIDLength); err != nil {
				return err
			}
		case 5:
			s.name = f.val
		case 6:
			s.kind = int32(f.u)
		case 7:
			s.start = f.u
		case 8:
			s.end = f.u
		case 9:
			key, v, err := keyValue(f.val)
			if err != nil {
				return err
			}
			s.attrs.Set(key, v)
		case 15:
			if err := spanStatus(f.val, &s.status); err != nil {
				return err
			}
		}
	}
	return m.err
}

// readID copies an id: empty or exactly len(dst) bytes.
func readID(dst, val []byte, errLength error) error {
	switch len(val) {
	case 0:
		clear(dst)
	case len(dst):
		copy(dst, val)
	default:
		return errLength
	}
	return nil
}

// spanStatus reads a Status's code; a later code overrides, as merged messages do.
func spanStatus(msg []byte, code *int32) error {
	m := fields{b: msg}
	var f field
	for m.next(&f) {
		switch f.num {
		case 2: // message
			if f.wire != wireLen {
				return wrongWire("Status", &f)
			}
		case 3: // code
			if f.wire != wireVarint {
				return wrongWire("Status", &f)
			}
			*code = int32(f.u)
		}
	}
	return m.err
}

// keyValue reads a KeyValue: its key and the last value set by any of its value fields.
func keyValue(msg []byte) (key []byte, v spans.Value, err error) {
	v.Kind = spans.Other // a key without a value is present, and empty
	m := fields{b: msg}
	var f field
	for m.next(&f) {
		switch f.num {
		case 1: // key
			if f.wire != wireLen {
				return nil, v, wrongWire("KeyValue", &f)
			}
			key = f.val
		case 2: // value
			if f.wire != wireLen {
				return nil, v, wrongWire("KeyValue", &f)
			}
			if err := anyValue(f.val, &v); err != nil {
				return nil, v, err
			}
		}
	}
	return key, v, m.err
}

// anyValue reads an AnyValue into v; each value field replaces the one before. Arrays and maps
// are not looked into.
func anyValue(msg []byte, v *spans.Value) error {
	m := fields{b: msg}
	var f field
	for m.next(&f) {
		want := wireLen
		switch f.num {
		case 2, 3, 8: // bool_value, int_value, string_value_strindex
			want = wireVarint
		case 4: // double_value
			want = wireI64
		case 1, 5, 6, 7: // string_value, array_value, kvlist_value, bytes_value
		default:
			continue
		}
		if f.wire != want {
			return wrongWire("AnyValue", &f)
		}
		switch f.num {
		case 1:
			*v = spans.Value{Kind: spans.Str, Str: f.val}
		case 2:
			*v = spans.Value{Kind: spans.Bool}
			if f.u != 0 {
				v.Num = 1
			}
		case 3:
			*v = spans.Value{Kind: spans.Int, Num: int64(f.u)}
		case 4:
			*v = spans.Value{Kind: spans.Float, F: math.Float64frombits(f.u)}
		default:
			*v = spans.Value{Kind: spans.Other}
		}
	}
	return m.err
}
