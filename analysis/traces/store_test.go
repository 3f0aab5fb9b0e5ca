package traces

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

func TestSpanRecordSize(t *testing.T) {
	assert.EqualValues(t, 64, unsafe.Sizeof(span{}), "the documented bytes per span")
}

// Pushing MaxSpans+N spans keeps MaxSpans: the N oldest go.
func TestRingKeepsNewest(t *testing.T) {
	const maxSpans, extra = 100, 37
	r := newTestReceiver(t, testConfig{MaxSpans: maxSpans})
	// Span i starts at i seconds and lasts i ms; sent 10 a request, oldest first.
	for first := 0; first < maxSpans+extra; first += 10 {
		td := ptrace.NewTraces()
		spans := resource(td, "service.version", "v1")
		for i := first; i < min(first+10, maxSpans+extra); i++ {
			sp{trace: i + 1, id: i + 1, name: "op", start: time.Duration(i) * time.Second, dur: time.Duration(i) * time.Millisecond}.add(spans)
		}
		ingest(t, r, td)
	}

	assert.Equal(t, EnvStats{Held: maxSpans, Accepted: maxSpans + extra, Evicted: extra}, r.Stats().Environments["blue"])
	assert.Equal(t, maxSpans, cap(r.byEnv["blue"][0].ring.buf), "the ring never grows past MaxSpans")

	res, err := r.Fetch(t.Context(), OperationLatency{}, source.Env{Name: "blue"}, source.Window{})
	require.NoError(t, err)
	require.Len(t, res.Latencies, maxSpans)
	want := make([]float64, 0, maxSpans)
	for i := extra; i < maxSpans+extra; i++ {
		want = append(want, float64(i)/1000)
	}
	assert.ElementsMatch(t, want, res.Latencies, "the oldest spans are the ones evicted")

	// A window that reaches back over evicted spans says it is only partly held.
	require.Len(t, res.Warnings, 1)
	assert.Equal(t, "blue: 37 spans were evicted to stay within 100, some of them started in the window: the data covers part of it", res.Warnings[0])
	res, err = r.Fetch(t.Context(), OperationLatency{}, source.Env{Name: "blue"}, source.Window{Start: t0.Add(time.Duration(extra) * time.Second)})
	require.NoError(t, err)
	assert.Empty(t, res.Warnings, "a window after every evicted span is whole")
}

func TestNamesBounded(t *testing.T) {
	n := newNames()
	for i := len(n.list); i < maxNewNames+2; i++ {
		n.intern(fmt.Appendf(nil, "op-%d", i))
	}
	assert.True(t, n.full())
	assert.Equal(t, nameOther, n.intern([]byte("one too many")), "past the bound every new name is (other)")
	id, ok := n.lookup("op-100")
	require.True(t, ok)
	assert.Equal(t, id, n.intern([]byte("op-100")), "known names still resolve")
	assert.Len(t, n.snapshot(), maxNewNames+2)
}

func TestNamesCutAndSanitised(t *testing.T) {
	n := newNames()
	long := strings.Repeat("é", maxNameBytes) // 2 bytes a rune: the cut lands mid-rune
	id := n.intern([]byte(long))
	got := n.snapshot()[id]
	assert.LessOrEqual(t, len(got), maxNameBytes)
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasPrefix(long, got))
	lid, ok := n.lookup(long)
	require.True(t, ok, "a query with the full name finds the cut one")
	assert.Equal(t, id, lid)

	bad := n.intern([]byte("GET /\xff"))
	assert.Equal(t, "GET /\uFFFD", n.snapshot()[bad])
	assert.Equal(t, bad, n.intern([]byte("GET /\xff")))
	assert.Equal(t, nameUnnamed, n.intern(nil))
}
