package traces

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// span is the compact record of one accepted span: 64 bytes, no pointers, so a full ring is one
// allocation the garbage collector never scans.
type span struct {
	trace  [16]byte
	id     [8]byte
	parent [8]byte // zero for a root span
	start  int64   // unix nanoseconds
	dur    int64   // nanoseconds, ≥ 0
	op     uint32  // interned operation name
	svc    uint32  // interned service.name
	kind   uint8   // ptrace.SpanKind
	err    bool
}

// Key identifies whose spans these are: a resource attribute and one of its values
// (service.version "v2"). The receiver stores spans by key, never by an analysis's environment
// names, so every analysis that maps an environment to the same key reads the same spans.
type Key struct {
	Attribute, Value string
}

func (k Key) String() string { return k.Attribute + "=" + strconv.Quote(k.Value) }

// keyStore is one key's spans and names.
type keyStore struct {
	key   Key
	ring  *ring
	names *names
	refs  int // open views that want the key; guarded by Receiver.mu
}

func newKeyStore(k Key, maxSpans int) *keyStore {
	return &keyStore{key: k, ring: newRing(maxSpans), names: newNames()}
}

// ring holds one key's most recent spans, in arrival order.
type ring struct {
	mu   sync.RWMutex
	buf  []span // grows up to max, then wraps
	next int    // where the next span goes once full: the oldest
	max  int

	accepted int64
	evicted  int64
	// evictedUntil is the latest start among evicted spans: a window that begins before it is
	// only partly held.
	evictedUntil int64
}

func newRing(max int) *ring { return &ring{max: max} }

// add appends a batch, evicting the oldest spans once the ring is full.
func (g *ring) add(batch []span) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accepted += int64(len(batch))
	for _, s := range batch {
		if len(g.buf) < g.max {
			if len(g.buf) == cap(g.buf) {
				g.grow()
			}
			g.buf = append(g.buf, s)
			continue
		}
		old := &g.buf[g.next]
		g.evicted++
		g.evictedUntil = max(g.evictedUntil, old.start)
		*old = s
		g.next++
		if g.next == g.max {
			g.next = 0
		}
	}
}

// grow doubles the buffer without ever going past max, so a full ring costs exactly
// max × 64 bytes.
func (g *ring) grow() {
	n := min(max(2*cap(g.buf), 1024), g.max)
	buf := make([]span, len(g.buf), n)
	copy(buf, g.buf)
	g.buf = buf
}

// collect copies the spans that keep returns true for, under the read lock.
func (g *ring) collect(keep func(*span) bool) []span {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := 0
	for i := range g.buf {
		if keep(&g.buf[i]) {
			n++
		}
	}
	dst := make([]span, 0, n)
	for i := range g.buf {
		if keep(&g.buf[i]) {
			dst = append(dst, g.buf[i])
		}
	}
	return dst
}

// ringStats is a snapshot of a ring's counters.
type ringStats struct {
	held              int
	accepted, evicted int64
	evictedUntil      int64
}

func (g *ring) stats() ringStats {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return ringStats{held: len(g.buf), accepted: g.accepted, evicted: g.evicted, evictedUntil: g.evictedUntil}
}

// Interned names. Ids 0 and 1 are fixed, and the same in every key's table.
const (
	nameUnnamed uint32 = 0 // a span without a name, or a resource without service.name
	nameOther   uint32 = 1 // every name past maxNewNames
	// maxNewNames bounds the distinct operation and service names one key keeps: an
	// instrumentation that puts ids in span names must not grow memory without end.
	maxNewNames = 1<<15 - 1
	// maxNameBytes cuts long names; with maxNewNames this bounds a key's table to 8 MiB of
	// names (about twice that with the map) at worst.
	maxNameBytes = 256
)

const (
	unnamed   = "(unnamed)"
	otherName = "(other)"
)

// names interns one key's operation and service names so a record holds 4 bytes instead of a
// string. Each key has its own table, so a flood of new names for one key (a candidate that puts
// ids in span names) turns its own later names into "(other)", never another key's, and the
// table goes with the key when no view wants it any more. Queries over several keys compare
// names, not ids (see unifier).
type names struct {
	mu   sync.RWMutex
	ids  map[string]uint32
	list []string
}

func newNames() *names {
	return &names{
		ids:  map[string]uint32{unnamed: nameUnnamed, otherName: nameOther},
		list: []string{unnamed, otherName},
	}
}

// intern returns the id of b, adding it if the table has room left. It does not allocate when
// b is known.
func (n *names) intern(b []byte) uint32 {
	if len(b) == 0 {
		return nameUnnamed
	}
	b = cut(b)
	n.mu.RLock()
	id, ok := n.ids[string(b)]
	n.mu.RUnlock()
	if ok {
		return id
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if id, ok := n.ids[string(b)]; ok {
		return id
	}
	// Names end up in reasons and JSON: keep them valid UTF-8. A name with invalid bytes is
	// stored (and found again) under its repaired form only, so such names cannot grow the map
	// past the bound either.
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if id, ok := n.ids[s]; ok {
		return id
	}
	if len(n.list)-2 >= maxNewNames {
		return nameOther
	}
	id = uint32(len(n.list))
	n.list = append(n.list, s)
	n.ids[s] = id
	return id
}

// full reports whether the table has no room for new names.
func (n *names) full() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.list)-2 >= maxNewNames
}

// added is how many names were added past the fixed two.
func (n *names) added() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.list) - 2
}

// lookup returns the id of a name a query asks for.
func (n *names) lookup(s string) (uint32, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	id, ok := n.ids[string(cut([]byte(s)))]
	return id, ok
}

// snapshot returns the names by id; interned names never change, so the slice is safe to read.
func (n *names) snapshot() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.list[:len(n.list):len(n.list)]
}

// cut shortens b to at most maxNameBytes.
func cut(b []byte) []byte { return cutTo(b, maxNameBytes) }

// cutTo shortens b to at most n bytes without splitting a UTF-8 sequence.
func cutTo(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	i := n
	for i > n-utf8.UTFMax && i > 0 && !utf8.RuneStart(b[i]) {
		i--
	}
	return b[:i]
}
