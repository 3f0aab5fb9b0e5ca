package synthetic_test

import (
	"context"
	"crypto/sha256"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aaWork is the handler of both environments of an A/A test: a fixed amount of hashing (a few
// µs), the same on every request, so that the two environments are identical by construction.
func aaWork(w http.ResponseWriter, _ *http.Request) {
	var buf [1024]byte
	sum := sha256.Sum256(buf[:])
	for range 8 {
		sum = sha256.Sum256(append(buf[:0:0], sum[:]...))
		copy(buf[:], sum[:])
		sum = sha256.Sum256(buf[:])
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// TestRunAAIsUnbiased probes two identical environments many times through Run and checks that
// the role makes no difference.
//
// On a busy machine the side launched first is served first: on two loaded cores it measures
// some 20% faster than the other. Run balances that (each side goes first in half the runs), so
// the per-pair ratios fall in two humps, one per order, and the marginal p50s carry that spread
// as noise (about 1.5% at 2,000 pairs). The role effect is therefore estimated the way a
// crossover trial's is: the median candidate/baseline ratio of the pairs of each order, averaged
// over the two orders (in logs), which cancels the order effect and keeps only the role's. It
// must be within 2% of 1. The checks an analysis runs must not fail either: a shift check, and a
// p50 latency check whose interval for the ratio must hold 1. The test is about bias, not speed,
// so it holds on a loaded machine; it needs a few seconds, so -short skips it.
func TestRunAAIsUnbiased(t *testing.T) {
	if testing.Short() {
		t.Skip("A/A bias test: thousands of probes")
	}
	const pairs = 2000
	blue, green := httptest.NewServer(http.HandlerFunc(aaWork)), httptest.NewServer(http.HandlerFunc(aaWork))
	t.Cleanup(blue.Close)
	t.Cleanup(green.Close)
	suite := parseSuite(t, healthSuite)
	// Ten monitors at the shortest period, jittered so that their runs spread over it.
	mons := make([]synthetic.Monitor, 10)
	for i := range mons {
		mons[i] = synthetic.Monitor{Name: string(rune('a' + i)), Suite: suite, Every: synthetic.MinEvery,
			Jitter: synthetic.MinEvery, RateLimit: 1000}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := make(chan synthetic.Pair, 64)
	done := make(chan error, 1)
	go func() { done <- synthetic.Run(ctx, mons, options(nil, blue.URL, green.URL), out) }()
	var got []synthetic.Pair
	for len(got) < pairs {
		select {
		case p := <-out:
			if p.Baseline.OK && p.Candidate.OK {
				got = append(got, p)
			}
		case err := <-done:
			require.FailNow(t, "Run returned early", "%v", err)
		}
	}
	cancel()
	require.NoError(t, <-done)

	shift, err := compare.NewShift(compare.Config{}, 0.6, compare.Either)
	require.NoError(t, err)
	p50, err := compare.NewLatency(compare.Config{}, 50, compare.Threshold{MaxRatio: compare.F(1.2), Direction: compare.Either})
	require.NoError(t, err)
	byOrder := map[synthetic.Role][]float64{} // log(candidate/baseline) by the side launched first
	for _, p := range got {
		b, c := p.Baseline.Latency.Seconds(), p.Candidate.Latency.Seconds()
		require.NoError(t, shift.AddPair(b, c))
		require.NoError(t, p50.Add(compare.Baseline, b))
		require.NoError(t, p50.Add(compare.Candidate, c))
		byOrder[p.First] = append(byOrder[p.First], math.Log(c/b))
	}
	bf, cf := byOrder[synthetic.Baseline], byOrder[synthetic.Candidate]
	require.Equal(t, len(got), len(bf)+len(cf), "every pair names the side launched first")
	require.InDelta(t, len(bf), len(cf), float64(len(got))/20, "each side goes first in half the runs")
	role := math.Exp((median(bf) + median(cf)) / 2)
	t.Logf("%d pairs (%d baseline first, %d candidate first): candidate/baseline %.4f, going first %.2f× faster",
		len(got), len(bf), len(cf), role, math.Exp((median(bf)-median(cf))/2))
	assert.InDelta(t, 0, math.Log(role), math.Log(1.02), "candidate/baseline median ratio %.4f", role)
	sh, lat := shift.Evaluate(), p50.Evaluate()
	t.Log(sh.Reason)
	t.Log(lat.Reason)
	assert.NotEqual(t, compare.Fail, sh.State, "an A/A pair must not fail a shift check: %s", sh.Reason)
	assert.NotEqual(t, compare.Fail, lat.State, "an A/A pair must not fail a latency check: %s", lat.Reason)
	assert.True(t, lat.Ratio.Lower <= 1 && 1 <= lat.Ratio.Upper, "the p50 ratio's interval holds 1: %s", lat.Reason)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
