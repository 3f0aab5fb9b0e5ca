package compare

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkEvaluateTick is one evaluation tick of every kind of check with 1M observations per
// side already recorded (goal: ≤ 5 ms). Adding observations is measured separately.
func BenchmarkEvaluateTick(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	lat, _ := NewLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	lat99, _ := NewLatency(Config{}, 99.9, Threshold{MaxRatio: F(1.2), MaxIncrease: F(0.05)})
	errs, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005), MaxRatio: F(2)})
	shift, _ := NewShift(Config{}, 0.6, Increase)
	vals, _ := NewValues(Config{}, Threshold{MaxRatio: F(1.1)})
	hist, _ := NewHistogramLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	le := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.Inf(1)}
	for i := 0; i < n; i++ {
		for _, s := range []Side{Baseline, Candidate} {
			v := 0.1 * math.Exp(0.5*rng.NormFloat64())
			_ = lat.Add(s, v)
			_ = lat99.Add(s, v)
			errs.Add(s, rng.Float64() < 0.01)
			_ = shift.Add(s, v)
			_ = vals.Add(s, v)
		}
	}
	cum := make([]float64, len(le))
	for i := range cum {
		cum[i] = float64(n) * float64(i+1) / float64(len(le))
	}
	_ = hist.SetBuckets(Baseline, le, cum)
	_ = hist.SetBuckets(Candidate, le, cum)
	checks := []interface{ Evaluate() Outcome }{lat, lat99, errs, shift, vals, hist}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range checks {
			_ = c.Evaluate()
		}
	}
	b.ReportMetric(float64(lat.Sketch(Baseline).Bytes()), "sketch-bytes/side")
}

// BenchmarkLatencyAdd is the cost of recording one latency once past exact storage.
func BenchmarkLatencyAdd(b *testing.B) {
	lat, _ := NewLatency(Config{}, 95, Threshold{MaxRatio: F(1.2)})
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = 0.1 * math.Exp(0.5*rng.NormFloat64())
	}
	for _, v := range vals {
		_ = lat.Add(Baseline, v)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = lat.Add(Baseline, vals[i%len(vals)])
	}
}
