package synthetic_test

import (
	"context"
	"crypto/sha256"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

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
// the role makes no difference: the median of the per-pair ratios and the ratio of the p50s stay
// within 2% of 1, and neither a shift nor a p50 latency check at the analysis's default α
// fails. It is about bias, not speed, so it holds on a loaded machine; it needs a few seconds.
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
	go func() { done <- synthetic.Run(ctx, mons, options(blue.URL, green.URL), out) }()
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
	logRatios := make([]float64, 0, len(got))
	var base, cand []float64
	for _, p := range got {
		b, c := p.Baseline.Latency.Seconds(), p.Candidate.Latency.Seconds()
		require.NoError(t, shift.AddPair(b, c))
		require.NoError(t, p50.Add(compare.Baseline, b))
		require.NoError(t, p50.Add(compare.Candidate, c))
		logRatios = append(logRatios, math.Log(c/b))
		base, cand = append(base, b), append(cand, c)
	}
	pairRatio := math.Exp(median(logRatios))
	p50Ratio := median(cand) / median(base)
	t.Logf("%d pairs: median per-pair candidate/baseline %.4f, p50 ratio %.4f (p50 %s vs %s)", len(got), pairRatio, p50Ratio,
		time.Duration(median(cand)*1e9), time.Duration(median(base)*1e9))
	assert.InDelta(t, 0, math.Log(pairRatio), math.Log(1.02), "median per-pair ratio %.4f", pairRatio)
	assert.InDelta(t, 0, math.Log(p50Ratio), math.Log(1.02), "p50 ratio %.4f", p50Ratio)
	for _, o := range []compare.Outcome{shift.Evaluate(), p50.Evaluate()} {
		t.Log(o.Reason)
		assert.NotEqual(t, compare.Fail, o.State, "an A/A pair must not fail a %s check: %s", o.Kind, o.Reason)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
