package traces

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/greenlight/greenlight/analysis/spans"
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

// resourceAttrs are the resource attributes read: the first occurrence of each key wins, as in
// pcommon.Map.Get.
type resourceAttrs struct {
	vals    []spans.Value // by position in routes.attrs
	service spans.Value
}

// spanFields are the fields of one span the receiver keeps, whichever decoder read them.
type spanFields struct {
	trace      [16]byte
	id, parent [8]byte
	name       []byte
	kind       int32
	start, end uint64
	status     int32 // 2 is ERROR
	attrs      spans.Attrs
}

// batch collects one request's records per key and what was turned away.
type batch struct {
	r     *Receiver
	rt    *routes // the routing the request is read with, from its start to its end
	keys  map[*keyStore]*keyBatch
	tally tally
	buf   []byte        // scratch for operation names
	vals  []spans.Value // scratch for a resource's attribute values
	to    []target      // scratch for a resource's targets
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
func (b *batch) attrValues() []spans.Value {
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
		val, ok := a.vals[i].Text()
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
		if a.service.Kind == spans.Str {
			t.svc = t.kb.intern(a.service.Str)
		} else if name, ok := a.service.Text(); ok {
			t.svc = t.kb.intern([]byte(name))
		}
	}
	return b.to
}

// add records one span of an accepted resource in each of its targets.
func (b *batch) add(to []target, f *spanFields) {
	if !spans.ValidIDs(f.trace, f.id) {
		b.tally.badIDs++
		return
	}
	if !spans.ValidTimes(f.start, f.end) {
		b.tally.badTimes++
		return
	}
	b.buf = f.attrs.AppendOperation(b.buf[:0], f.name)
	rec := span{
		trace:  f.trace,
		id:     f.id,
		parent: f.parent,
		start:  int64(f.start),
		dur:    int64(f.end - f.start),
		kind:   uint8(f.kind),
		err:    spans.IsError(f.status, &f.attrs),
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
