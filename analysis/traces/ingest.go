package traces

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Attribute keys read from spans and resources (OpenTelemetry semantic conventions, current
// and older names).
const (
	attrServiceName   = "service.name"
	attrRoute         = "http.route"
	attrMethod        = "http.request.method"
	attrMethodOld     = "http.method"
	attrStatusCode    = "http.response.status_code"
	attrStatusCodeOld = "http.status_code"
)

const (
	maxUnknownExamples = 3  // distinct unknown attribute values quoted in a partial-success message
	maxQuotedValue     = 64 // bytes of a sender's value quoted in a message or a log
)

// tally counts what one request brought and why spans were turned away.
type tally struct {
	accepted   int
	noView     int      // no view was open
	noValue    int      // resource without any of the attributes the views use
	unknown    int      // resource whose values no open view wants
	unknownVal []string // a few of those values, quoted, for the message
	badIDs     int      // empty trace or span id
	badTimes   int      // no start, end before start, or out of range
}

func (t *tally) rejected() int { return t.noView + t.noValue + t.unknown + t.badIDs + t.badTimes }

// message explains the rejections in one line for partial_success.error_message.
func (t *tally) message(rt *routes) string {
	var parts []string
	attrs := strings.Join(rt.attrs, " or ")
	if t.noView > 0 {
		parts = append(parts, fmt.Sprintf("%d while no analysis receives traces", t.noView))
	}
	if t.noValue > 0 {
		parts = append(parts, fmt.Sprintf("%d from resources without %s", t.noValue, attrs))
	}
	if t.unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d from resources whose %s (%s) is not one of %s",
			t.unknown, attrs, strings.Join(t.unknownVal, ", "), rt.known))
	}
	if t.badIDs > 0 {
		parts = append(parts, fmt.Sprintf("%d without a trace or span id", t.badIDs))
	}
	if t.badTimes > 0 {
		parts = append(parts, fmt.Sprintf("%d without a valid start and end time", t.badTimes))
	}
	return fmt.Sprintf("rejected %d of %d spans: %s", t.rejected(), t.rejected()+t.accepted, strings.Join(parts, "; "))
}

// valueKind is the type of an attribute value, as far as the receiver cares.
type valueKind uint8

const (
	valueNone  valueKind = iota // the key is absent
	valueStr                    // string
	valueInt                    // int64
	valueFloat                  // double
	valueBool                   // bool
	valueOther                  // bytes, array, map, empty
)

// value is one attribute value. str aliases the request body while it is being read.
type value struct {
	kind valueKind
	str  []byte
	num  int64 // int, or bool as 0/1
	f    float64
}

// text is the value as an environment or service name: strings as they are, numbers and
// booleans formatted; other kinds have none.
func (v value) text() (string, bool) {
	switch v.kind {
	case valueStr:
		return string(v.str), true
	case valueInt:
		return strconv.FormatInt(v.num, 10), true
	case valueFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64), true
	case valueBool:
		return strconv.FormatBool(v.num != 0), true
	}
	return "", false
}

// resourceAttrs are the resource attributes read: the first occurrence of each key wins, as in
// pcommon.Map.Get.
type resourceAttrs struct {
	vals    []value // by position in routes.attrs
	service value
}

// spanAttrs are the span attributes that name an operation and mark an error.
type spanAttrs struct {
	route, method, methodOld, code, codeOld value
}

// set records v under key if the key is one of interest and not set yet.
func (a *spanAttrs) set(key []byte, v value) {
	var dst *value
	switch string(key) {
	case attrRoute:
		dst = &a.route
	case attrMethod:
		dst = &a.method
	case attrMethodOld:
		dst = &a.methodOld
	case attrStatusCode:
		dst = &a.code
	case attrStatusCodeOld:
		dst = &a.codeOld
	default:
		return
	}
	if dst.kind == valueNone {
		*dst = v
	}
}

// operation appends the span's operation name to dst: "METHOD route" when the span has an
// http.route (so probes and real traffic group by route, whatever the span is named), else the
// span name.
func (a *spanAttrs) operation(dst, name []byte) []byte {
	if a.route.kind != valueStr || len(a.route.str) == 0 {
		return append(dst, name...)
	}
	method := a.method
	if method.kind == valueNone {
		method = a.methodOld
	}
	if method.kind == valueStr && len(method.str) > 0 {
		dst = append(dst, method.str...)
		dst = append(dst, ' ')
	}
	return append(dst, a.route.str...)
}

// serverError reports an HTTP response status code of 500 or more.
func (a *spanAttrs) serverError() bool {
	v := a.code
	if v.kind == valueNone {
		v = a.codeOld
	}
	switch v.kind {
	case valueInt:
		return v.num >= 500
	case valueFloat:
		return v.f >= 500
	case valueStr:
		code, err := strconv.Atoi(string(bytes.TrimSpace(v.str)))
		return err == nil && code >= 500
	}
	return false
}

// spanFields are the fields of one span the receiver keeps, whichever decoder read them.
type spanFields struct {
	trace      [16]byte
	id, parent [8]byte
	name       []byte
	kind       int32
	start, end uint64
	status     int32 // 2 is ERROR
	attrs      spanAttrs
}

const statusError = 2

// batch collects one request's records per key and what was turned away.
type batch struct {
	r     *Receiver
	rt    *routes // the routing the request is read with, from its start to its end
	keys  map[*keyStore]*keyBatch
	tally tally
	buf   []byte   // scratch for operation names
	vals  []value  // scratch for a resource's attribute values
	to    []target // scratch for a resource's targets
}

// keyBatch is one key's records of a request.
type keyBatch struct {
	ks    *keyStore
	spans []span
	ids   map[string]uint32 // names this request already interned: most spans need no lock
}

// target is a key an accepted resource's spans go to, with the resource's service name
// interned in that key's table.
type target struct {
	kb  *keyBatch
	svc uint32
}

func (r *Receiver) newBatch(rt *routes) *batch {
	return &batch{r: r, rt: rt}
}

// attrValues returns zeroed scratch space for one resource's attribute values.
func (b *batch) attrValues() []value {
	b.vals = slices.Grow(b.vals[:0], len(b.rt.attrs))[:len(b.rt.attrs)]
	clear(b.vals)
	return b.vals
}

func (b *batch) keyBatch(ks *keyStore) *keyBatch {
	kb := b.keys[ks]
	if kb == nil {
		if b.keys == nil {
			b.keys = make(map[*keyStore]*keyBatch, 2)
		}
		kb = &keyBatch{ks: ks}
		b.keys[ks] = kb
	}
	return kb
}

// intern returns the id of a name in the key's table, from the request's own cache when it can.
// "(other)" is not cached: a full table is the key's, and it stays rare.
func (kb *keyBatch) intern(name []byte) uint32 {
	if id, ok := kb.ids[string(name)]; ok {
		return id
	}
	id := kb.ks.names.intern(name)
	if id == nameOther {
		return id
	}
	if kb.ids == nil {
		kb.ids = make(map[string]uint32, 8)
	}
	if len(kb.ids) < 64 {
		kb.ids[string(name)] = id
	}
	return id
}

// resource resolves the keys a resource's n spans go to: every key an open view wants among
// the resource's attribute values (one per attribute at most). None means its spans are
// rejected, and the tally counts them.
func (b *batch) resource(a *resourceAttrs, n int) []target {
	b.to = b.to[:0]
	first := -1 // the first attribute the resource has a value for
	var firstVal string
	for i := range a.vals {
		val, ok := a.vals[i].text()
		if !ok {
			continue
		}
		if first < 0 {
			first, firstVal = i, val
		}
		if ks := b.rt.keys[i][val]; ks != nil {
			b.to = append(b.to, target{kb: b.keyBatch(ks)})
		}
	}
	switch {
	case len(b.rt.attrs) == 0:
		b.tally.noView += n
		return nil
	case first < 0:
		b.tally.noValue += n
		return nil
	case len(b.to) == 0:
		b.tally.unknown += n
		attr := b.rt.attrs[first]
		b.r.noteUnknown(b.rt, attr, firstVal)
		q := strconv.Quote(quotable(firstVal))
		if len(b.rt.attrs) > 1 {
			q = attr + "=" + q
		}
		if len(b.tally.unknownVal) < maxUnknownExamples && !slices.Contains(b.tally.unknownVal, q) {
			b.tally.unknownVal = append(b.tally.unknownVal, q)
		}
		return nil
	}
	for i := range b.to {
		t := &b.to[i]
		t.kb.spans = slices.Grow(t.kb.spans, n)
		t.svc = nameUnnamed
		if a.service.kind == valueStr {
			t.svc = t.kb.intern(a.service.str)
		} else if name, ok := a.service.text(); ok {
			t.svc = t.kb.intern([]byte(name))
		}
	}
	return b.to
}

// add records one span of an accepted resource in each of its targets.
func (b *batch) add(to []target, f *spanFields) {
	if f.trace == ([16]byte{}) || f.id == ([8]byte{}) {
		b.tally.badIDs++
		return
	}
	if f.start == 0 || f.end < f.start || f.end > math.MaxInt64 {
		b.tally.badTimes++
		return
	}
	b.buf = f.attrs.operation(b.buf[:0], f.name)
	rec := span{
		trace:  f.trace,
		id:     f.id,
		parent: f.parent,
		start:  int64(f.start),
		dur:    int64(f.end - f.start),
		kind:   uint8(f.kind),
		err:    f.status == statusError || f.attrs.serverError(),
	}
	for _, t := range to {
		rec.op, rec.svc = t.kb.intern(b.buf), t.svc
		t.kb.spans = append(t.kb.spans, rec)
	}
	b.tally.accepted++
}

// quotable shortens a sender-controlled value before it goes into a message or a log.
func quotable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxQuotedValue {
		return s
	}
	return string(cutTo([]byte(s), maxQuotedValue)) + "…"
}
