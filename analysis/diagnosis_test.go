package analysis

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

// TestUnreachableEnvironmentIsNamed: an environment nothing listens on is named as unreachable
// with the reason and the count, while the analysis runs and in the verdict — never a bare "no
// data" at the time limit.
func TestUnreachableEnvironmentIsNamed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	green := start(t, app.Config{})

	a := spec(t, "minDuration: 1s, maxDuration: 2s, onInconclusive: hold", "")
	var ticks []Event
	v, _ := runAnalysis(t, a, closed, green.URL, func(e Event) {
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
