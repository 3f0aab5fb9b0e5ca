package analysis

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/verdict"
)

// TestUnreachableEnvironmentIsNamed: an environment nothing listens on is named as unreachable
// with the reason and the count, while the analysis runs and in the verdict — never a bare "no
// data" at the time limit.
func TestUnreachableEnvironmentIsNamed(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		testUnreachableEnvironmentIsNamed(t, n)
	})
}

func testUnreachableEnvironmentIsNamed(t *testing.T, n *memnet.Network) {
	_, green := serveApp(t, n, "green", app.Config{})
	closed := "http://blue:80" // nothing listens there

	a := spec(t, "minDuration: 1s, maxDuration: 2s, onInconclusive: hold", "")
	var ticks []Event
	v, _ := runAnalysis(t, n, a, closed, green, func(e Event) {
		if e.Kind == EventTick {
			ticks = append(ticks, e)
		}
	})
	assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
	require.Len(t, v.Diagnosis, 1, v.Reason)
	want := regexp.MustCompile(`^blue unreachable: connection refused, (\d+) of (\d+) probes$`)
	m := want.FindStringSubmatch(v.Diagnosis[0])
	require.NotNil(t, m, v.Diagnosis[0])
	assert.Equal(t, m[1], m[2], "every probe of blue failed to connect")
	assert.Equal(t, "blue unreachable: connection refused, 200 of 200 probes", v.Diagnosis[0], "a probe every 10ms for 2s, in fake time")
	assert.Contains(t, v.Reason, "blue unreachable: connection refused")
	assert.NotContains(t, strings.ToLower(v.Reason), "nan")

	var seen bool
	for _, e := range ticks {
		for _, d := range e.Diagnosis {
			seen = seen || strings.HasPrefix(d, "blue unreachable: connection refused")
		}
	}
	assert.True(t, seen, "the diagnosis reaches the progress events")

	var out strings.Builder
	verdict.NewTextWriter(&out, verdict.TextOptions{}).Verdict(v)
	assert.Contains(t, out.String(), "diagnosis: "+v.Diagnosis[0])
	assert.NotContains(t, out.String(), "NaN")
}
