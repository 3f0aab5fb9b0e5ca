package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

func find(t *testing.T, name string) *scenario {
	t.Helper()
	for _, s := range catalog() {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no scenario %s", name)
	return nil
}

func TestTrueRatios(t *testing.T) {
	tests := []struct {
		name    string
		ratio   float64
		healthy bool
	}{
		{"latency/aa-lognormal", 1, true},
		{"latency/scale-1.10", 1.1, true},
		{"latency/bimodal-1.08", 1.08, true},
		{"latency/pareto-1.10", 1.1, true},
		{"latency/shift-10pct", 1.1, true},
		{"latency/scale-1.25", 1.25, false},
		{"latency/scale-2", 2, false},
		{"latency/p99-scale-2", 2, false},
		{"latency/tail-2x", 2, false}, // the p95 is above the 90th percentile, so it doubles
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := find(t, tt.name).truth()
			if math.Abs(*tr.Ratio-tt.ratio) > 1e-9 || tr.Healthy != tt.healthy {
				t.Errorf("ratio %.12f healthy %v, want %v %v", *tr.Ratio, tr.Healthy, tt.ratio, tt.healthy)
			}
		})
	}
	if r := *find(t, "latency/bimodal-5to15").truth().Ratio; !(r > 1.2) {
		t.Errorf("bimodal 5%%→15%% p95 ratio %v is not a regression", r)
	}
	if tr := find(t, "errors/0.1-to-0.6").truth(); !tr.Healthy || tr.Label != "healthy (at the tolerance)" {
		t.Errorf("+0.5pp is %q, want healthy at the tolerance", tr.Label)
	}
}

// The mix weights are solved from the CDF; simulation must agree that the p95 ratio is 1.08.
func TestBimodalRatioBySimulation(t *testing.T) {
	s := find(t, "latency/bimodal-1.08")
	const n = 10_000_000 // the ratio's standard error is about 0.0015
	r := rand.New(rand.NewPCG(7, 8))
	p95 := func(d dist) float64 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(d.sample(r))
		}
		return float64(kth(v, int(math.Ceil(0.95*n))-1))
	}
	got := p95(s.cand) / p95(s.base)
	t.Logf("simulated p95 ratio %.4f", got)
	if math.Abs(got-1.08) > 0.005 {
		t.Errorf("simulated p95 ratio %.4f, want 1.08 ± 0.005", got)
	}
}

// Every sampler must draw from the distribution whose CDF states the truth: the empirical CDF
// at the true quantiles is checked to within 5 standard errors.
func TestSamplersMatchCDF(t *testing.T) {
	const n = 200_000
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range catalog() {
		if s.errors {
			continue
		}
		for _, d := range []dist{s.base, s.cand} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = d.sample(r)
			}
			for _, p := range []float64{0.1, 0.5, 0.9, 0.95, 0.99} {
				q := quantile(d, p)
				below := 0
				for _, x := range xs {
					if x <= q {
						below++
					}
				}
				if got, se := float64(below)/n, math.Sqrt(p*(1-p)/n); math.Abs(got-p) > 5*se {
					t.Errorf("%s %s: P(X ≤ q%g) = %.4f, want %.4f", s.name, d, p, got, p)
				}
			}
		}
	}
}

func TestTailKeepsMedian(t *testing.T) {
	s := find(t, "latency/tail-2x")
	if b, c := quantile(s.base, 0.5), quantile(s.cand, 0.5); math.Abs(c/b-1) > 1e-9 {
		t.Errorf("median moved: %v → %v", b, c)
	}
}

func TestKth(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(n/2 + 1)) // many ties
		}
		for _, k := range []int{0, n / 2, n - 1} {
			w := append([]float64(nil), v...)
			got := kth(w, k)
			rank := 0
			for _, x := range v {
				if x < got {
					rank++
				}
			}
			eq := 0
			for _, x := range v {
				if x == got {
					eq++
				}
			}
			if !(rank <= k && k < rank+eq) {
				t.Errorf("n=%d k=%d: got %v, which has ranks %d…%d", n, k, got, rank, rank+eq-1)
			}
		}
	}
}

// The noise chain spends its stated share of the time in episodes, episodes last their stated
// length on average, and a run starts in an episode as often as the long run is in one.
func TestEpisodesChain(t *testing.T) {
	e := &episodes{every: 60, length: 5, level: 2}
	r := rand.New(rand.NewPCG(9, 10))
	const runs, seconds = 4000, 600
	starts, begun, onSeconds := 0, 0, 0
	for range runs {
		s := e.start(r)
		if s {
			starts++
		}
		for range seconds {
			next := e.step(s, r)
			if next && !s {
				begun++
			}
			if s {
				onSeconds++
			}
			s = next
		}
	}
	share := float64(onSeconds) / (runs * seconds)
	if math.Abs(share-e.share()) > 0.005 {
		t.Errorf("share %.4f, want %.4f", share, e.share())
	}
	if got := float64(starts) / runs; math.Abs(got-e.share()) > 0.02 {
		t.Errorf("runs starting in an episode %.4f, want %.4f", got, e.share())
	}
	if mean := float64(onSeconds) / float64(begun+starts); math.Abs(mean-e.length) > 0.3 {
		t.Errorf("mean episode length %.2f s, want %g", mean, e.length)
	}
	var none *episodes
	if none.start(r) || none.step(true, r) || none.share() != 0 {
		t.Error("no noise must never be on")
	}
}

func TestNoisyScenariosTruth(t *testing.T) {
	s := find(t, "errors/bursty-aa")
	tr := s.truth()
	if !tr.Healthy || tr.Baseline != tr.Candidate || !(tr.Baseline > s.pb) {
		t.Errorf("bursty A/A truth %+v: healthy, equal, and above the background rate", tr)
	}
	if tr := find(t, "errors/bursty-+5pp").truth(); tr.Healthy || math.Abs(tr.Diff-0.05*(1-s.bursts.share())) > 1e-12 {
		t.Errorf("bursty +5pp truth %+v", tr)
	}
	if tr := find(t, "latency/episodes-aa").truth(); !tr.Healthy || *tr.Ratio != 1 || !(tr.Baseline > quantile(s.base, 0.95)) {
		t.Errorf("episodes A/A truth %+v: the episodes raise both p95s alike", tr)
	}
	if r := *find(t, "latency/episodes-scale-2").truth().Ratio; math.Abs(r-2) > 1e-9 {
		t.Errorf("episodes ×2 ratio %v", r)
	}
}

// Blue's failures that coincide with green's: a hypergeometric count, checked by its mean
// m·k/n and its range.
func TestHypergeometric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n, m, k, draws = 20, 6, 9, 100_000
	sum := 0.0
	for range draws {
		x := hypergeometric(r, n, m, k)
		if x < 0 || x > m {
			t.Fatalf("%d coincidences of %d and %d failures", x, m, k)
		}
		sum += float64(x)
	}
	want := float64(m) * k / n
	if got := sum / draws; math.Abs(got-want) > 0.02 {
		t.Errorf("mean %.4f, want %.4f", got, want)
	}
	if hypergeometric(r, 10, 10, 3) != 3 || hypergeometric(r, 10, 0, 3) != 0 {
		t.Error("the extremes are certain")
	}
}
