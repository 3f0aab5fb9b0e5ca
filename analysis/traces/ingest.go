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
	noValue    int      // resource without the attribute
	unknown    int      // resource with a value not in Config.Values
	unknownVal []string // a few of those values, quoted in the message
	badIDs     int      // empty trace or span id
	badTimes   int      // no start, end before start, or out of range
}

func (t *tally) rejected() int { return t.noValue + t.unknown + t.badIDs + t.badTimes }

// message explains the rejections in one line for partial_success.error_message.
func (t *tally) message(attr string, known []string) string {
	var parts []string
	if t.noValue > 0 {
		parts = append(parts, fmt.Sprintf("%d from resources without %s", t.noValue, attr))
	}
	if t.unknown > 0 {
		quoted := make([]string, len(t.unknownVal))
		for i, v := range t.unknownVal {
			quoted[i] = strconv.Quote(v)
		}
		parts = append(parts, fmt.Sprintf("%d from resources whose %s (%s) is not one of %s",
			t.unknown, attr, strings.Join(quoted, ", "), strings.Join(known, ", ")))
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
	env, service value
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

type rejection int

const (
	rejectNone rejection = iota
	rejectIDs
	rejectTimes
)

// record builds the compact record of one span of environment env.
func (b *batch) record(env int, f *spanFields, svc uint32) (span, rejection) {
	if f.trace == ([16]byte{}) || f.id == ([8]byte{}) {
		return span{}, rejectIDs
	}
	if f.start == 0 || f.end < f.start || f.end > math.MaxInt64 {
		return span{}, rejectTimes
	}
	b.buf = f.attrs.operation(b.buf[:0], f.name)
	return span{
		trace:  f.trace,
		id:     f.id,
		parent: f.parent,
		start:  int64(f.start),
		dur:    int64(f.end - f.start),
		op:     b.intern(b.buf, env),
		svc:    svc,
		kind:   uint8(f.kind),
		err:    f.status == statusError || f.attrs.serverError(),
	}, rejectNone
}

// batch collects one request's records per environment and what was turned away.
type batch struct {
	r     *Receiver
	spans [][]span // by environment index
	tally tally
	buf   []byte            // scratch for operation names
	ids   map[string]uint32 // names this request already interned: most spans need no lock
}

// intern returns the id of a name seen in environment env, from the request's own cache when
// it can. "(other)" is not cached: it depends on the environment's budget, and a request may
// carry several environments.
func (b *batch) intern(name []byte, env int) uint32 {
	if id, ok := b.ids[string(name)]; ok {
		return id
	}
	id := b.r.names.intern(name, env)
	if id == nameOther {
		return id
	}
	if b.ids == nil {
		b.ids = make(map[string]uint32, 8)
	}
	if len(b.ids) < 64 {
		b.ids[string(name)] = id
	}
	return id
}

func (r *Receiver) newBatch() *batch {
	return &batch{r: r, spans: make([][]span, len(r.envs))}
}

// resource resolves a resource's environment and service: env is -1 when its spans must be
// rejected, n of them, which the tally then counts.
func (b *batch) resource(a *resourceAttrs, n int) (env int, svc uint32) {
	val, ok := a.env.text()
	if !ok {
		b.tally.noValue += n
		return -1, 0
	}
	env, ok = b.r.byValue[val]
	if !ok {
		b.tally.unknown += n
		b.r.noteUnknown(val)
		if q := quotable(val); len(b.tally.unknownVal) < maxUnknownExamples && !slices.Contains(b.tally.unknownVal, q) {
			b.tally.unknownVal = append(b.tally.unknownVal, q)
		}
		return -1, 0
	}
	b.spans[env] = slices.Grow(b.spans[env], n)
	svc = nameUnnamed
	if a.service.kind == valueStr {
		svc = b.intern(a.service.str, env)
	} else if name, ok := a.service.text(); ok {
		svc = b.intern([]byte(name), env)
	}
	return env, svc
}

// add records one span of an accepted resource.
func (b *batch) add(env int, svc uint32, f *spanFields) {
	rec, why := b.record(env, f, svc)
	switch why {
	case rejectIDs:
		b.tally.badIDs++
	case rejectTimes:
		b.tally.badTimes++
	default:
		b.spans[env] = append(b.spans[env], rec)
		b.tally.accepted++
	}
}

// quotable shortens a sender-controlled value before it goes into a message or a log.
func quotable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxQuotedValue {
		return s
	}
	return string(cutTo([]byte(s), maxQuotedValue)) + "…"
}
