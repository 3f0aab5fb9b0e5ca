package main

import "math"

// verdict is what a judge concluded in one simulated analysis.
type verdict uint8

const (
	undecided verdict = iota
	rollback
	promote
	inconclusive // still undecided at the horizon (only greenlight can say so)
)

// decision is a verdict and the simulated second it was reached at.
type decision struct {
	v  verdict
	at int32
}

// tick is one simulated second of data, the same for every judge.
type tick struct {
	t     int          // simulated second, from 1
	lat   [2][]float64 // this second's latencies per side (latency scenarios, or when asked for)
	errs  [2]int64     // this second's failed requests per side (error scenarios, or when asked for)
	total [2]int64     // this second's requests per side
	// pairs are this second's requests as probed, one per side at the same moment, by outcome:
	// both failed, only blue failed, only green failed (the rest succeeded on both sides).
	both, onlyBlue, onlyGreen int64
	// minute is set at the last second of each complete minute: its number, from 1, and that
	// minute's aggregate per side (latency: its percentile; errors: its error rate; NaN: no data).
	minute int
	point  [2]float64
}

// judge decides from the data as it arrives. observe returns undecided until it decides;
// final is asked once, at the horizon, of a judge that has not decided.
type judge interface {
	observe(tk *tick) verdict
	final() verdict
}

// judgeKind names a judge and builds a fresh one for each simulated analysis.
type judgeKind struct {
	name  string // short, for the JSON and -judges
	label string // for the table
	build func(s *scenario, cfg *simConfig) (judge, error)
	// both: the judge checks latency and errors together, so every second must carry both.
	both bool
}

// judgeKinds lists every judge, in table order.
var judgeKinds = []judgeKind{
	{name: "greenlight", label: "greenlight", build: newGreenlight},
	{name: "analysis", label: "greenlight, default Analysis", build: newAnalysis, both: true},
	{name: "kayenta-fixed", label: "Kayenta, fixed horizon", build: func(s *scenario, _ *simConfig) (judge, error) { return newKayenta(s, false), nil }},
	{name: "kayenta-minutely", label: "Kayenta, every minute", build: func(s *scenario, _ *simConfig) (judge, error) { return newKayenta(s, true), nil }},
	{name: "threshold", label: "threshold (Argo/Flagger)", build: func(s *scenario, _ *simConfig) (judge, error) { return newThreshold(s), nil }},
	{name: "naive-peeking", label: "naive peeking", build: newNaive},
}

// Sides, indexed like compare.Side.
const (
	blue  = 0 // baseline
	green = 1 // candidate
)

// mean is the arithmetic mean, NaN for no values.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// normalSF is P(Z > z) for a standard normal Z.
func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// normalQuantile is the z with P(Z ≤ z) = p.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
