package main

import (
	"fmt"
	"math"
	"regexp"
)

// Tolerances every judge is asked to enforce, and the truth is labelled against.
const (
	latencyMaxRatio  = 1.2   // candidate percentile ÷ baseline percentile
	errorMaxIncrease = 0.005 // candidate rate − baseline rate: 0.5 percentage points
)

// scenario is one deployment whose truth is known: the two environments' distributions (or
// error rates), a load factor applied to both alike, and noise that hits each environment on
// its own. Every scenario has both latencies and errors, so that an analysis with both checks
// can be judged on it; errors names the metric the scenario is about, the one the single-check
// judges see.
type scenario struct {
	name       string
	errors     bool    // an error-rate scenario; otherwise latency
	percentile float64 // latency: 95 or 99
	base, cand dist    // latency, outside episodes (latency scenarios; error scenarios: lognormal A/A)
	pb, pc     float64 // errors: true error rates outside bursts (latency scenarios: 0)
	// load multiplies both environments' latencies at second t (nil: constant load).
	load func(t, horizon float64) float64
	// bursts of errors and latency episodes, each environment on its own (nil: none).
	bursts, slow *episodes
	note         string
}

// episodes is noise that hits each environment independently of the other: a two-state chain
// stepped every second, which starts an episode with probability 1/every and ends one with
// probability 1/length, so episodes last length seconds on average with every seconds of calm
// between them; each run starts from the chain's stationary state. During an episode an
// environment's error rate is level (bursts) or its latencies are multiplied by level.
type episodes struct {
	every, length, level float64
}

// share is the long-run fraction of time an environment spends in an episode.
func (e *episodes) share() float64 {
	if e == nil {
		return 0
	}
	return e.length / (e.every + e.length)
}

func (e *episodes) String() string {
	return fmt.Sprintf("episodes of %gs on average every %gs of calm (%.1f%% of the time)", e.length, e.every, 100*e.share())
}

// marginal is a side's latency distribution over the long run: calm, or in an episode.
func (s *scenario) marginal(d dist) dist {
	if s.slow == nil {
		return d
	}
	return mixture{w: s.slow.share(), fast: d, slow: scaled{d, s.slow.level}}
}

// marginalRate is a side's error rate over the long run.
func (s *scenario) marginalRate(p float64) float64 {
	if s.bursts == nil {
		return p
	}
	f := s.bursts.share()
	return (1-f)*p + f*s.bursts.level
}

// truth is what a perfect judge would conclude.
type truth struct {
	Healthy   bool     `json:"healthy"`
	Label     string   `json:"label"`
	Baseline  float64  `json:"baseline"`  // true percentile (s) or error rate
	Candidate float64  `json:"candidate"` // idem
	Ratio     *float64 `json:"ratio"`     // candidate ÷ baseline; null for an error rate from 0
	Diff      float64  `json:"difference"`
}

func (s *scenario) truth() truth {
	var t truth
	if s.errors {
		t.Baseline, t.Candidate = s.marginalRate(s.pb), s.marginalRate(s.pc)
		t.Diff = t.Candidate - t.Baseline
		if t.Baseline > 0 {
			r := t.Candidate / t.Baseline
			t.Ratio = &r
		}
		t.Healthy = t.Diff <= errorMaxIncrease+1e-12
		t.Label = healthLabel(t.Healthy, t.Diff > 0, math.Abs(t.Diff-errorMaxIncrease) < 1e-12)
		return t
	}
	p := s.percentile / 100
	t.Baseline, t.Candidate = quantile(s.marginal(s.base), p), quantile(s.marginal(s.cand), p)
	r := t.Candidate / t.Baseline
	t.Ratio = &r
	t.Diff = t.Candidate - t.Baseline
	t.Healthy = r <= latencyMaxRatio+1e-9
	t.Label = healthLabel(t.Healthy, math.Abs(r-1) > 1e-9, math.Abs(r-latencyMaxRatio) < 1e-9)
	return t
}

func healthLabel(healthy, changed, boundary bool) string {
	switch {
	case boundary:
		return "healthy (at the tolerance)"
	case healthy && changed:
		return "healthy (within the tolerance)"
	case healthy:
		return "healthy (A/A)"
	}
	return "regression"
}

// describe is a one-line statement of the scenario and its truth.
func (s *scenario) describe() string {
	t := s.truth()
	if s.errors {
		d := fmt.Sprintf("error rate %.2f%% → %.2f%%", 100*s.pb, 100*s.pc)
		if s.bursts != nil {
			d += fmt.Sprintf("; bursts at %g%% errors in each environment on its own, %s: long-run %.3f%% → %.3f%%",
				100*s.bursts.level, s.bursts, 100*t.Baseline, 100*t.Candidate)
		}
		return fmt.Sprintf("%s (%+.2fpp; tolerance +%.2fpp) — %s", d, 100*t.Diff, 100*errorMaxIncrease, t.Label)
	}
	d := fmt.Sprintf("blue %s; green %s", s.base, s.cand)
	if s.base == s.cand {
		d = fmt.Sprintf("both %s", s.base)
	}
	if s.slow != nil {
		d += fmt.Sprintf("; latency ×%g in each environment on its own, %s", s.slow.level, s.slow)
	}
	if s.note != "" {
		d += "; " + s.note
	}
	return fmt.Sprintf("%s — true p%g %s vs %s, ratio %.4f (tolerance %.2f) — %s",
		d, s.percentile, ms(t.Candidate), ms(t.Baseline), *t.Ratio, latencyMaxRatio, t.Label)
}

// catalog returns every scenario, healthy ones first within each kind.
func catalog() []*scenario {
	logn := lognormal{median: 0.100, sigma: 0.5}
	par := pareto{xm: 0.050, shape: 2.5}
	fast, slow := lognormal{median: 0.060, sigma: 0.4}, lognormal{median: 0.250, sigma: 0.4}
	bimodal := func(w float64) mixture { return mixture{w: w, fast: fast, slow: slow} }
	q := func(d dist, p float64) float64 { return quantile(d, p) }

	// The healthy mix shift: the slow-mode share whose true p95 is 1.08× the baseline's.
	base95 := q(bimodal(0.05), 0.95)
	w108 := solve(func(w float64) float64 { return q(bimodal(w), 0.95) / base95 }, 1.08, 0.05, 0.5)

	lat := func(name string, pct float64, b, c dist) *scenario {
		return &scenario{name: "latency/" + name, percentile: pct, base: b, cand: c}
	}
	drift := lat("drift", 95, logn, logn)
	drift.load = func(t, h float64) float64 { return 1 + 0.5*t/h }
	drift.note = "both slow down linearly by +50% over the horizon"
	diurnal := lat("diurnal", 95, logn, logn)
	diurnal.load = func(t, _ float64) float64 { return 1 + 0.3*math.Sin(2*math.Pi*t/600) }
	diurnal.note = "both ×(1 + 0.3·sin(2πt/10min))"
	shift := lat("shift-10pct", 95, logn, shifted{logn, 0.1 * q(logn, 0.95)})
	shift.note = "a constant added to every request: p95 +10%, median +23%"
	tail := lat("tail-2x", 95, logn, slowTail{logn, q(logn, 0.90), 2})
	tail.note = "the slowest 10% take twice as long, median unchanged"

	s := []*scenario{
		lat("aa-lognormal", 95, logn, logn),
		lat("aa-pareto", 95, par, par),
		lat("scale-1.10", 95, logn, scaled{logn, 1.1}),
		lat("bimodal-1.08", 95, bimodal(0.05), bimodal(w108)),
		lat("pareto-1.10", 95, par, scaled{par, 1.1}),
		drift,
		diurnal,
		shift,
		lat("scale-1.25", 95, logn, scaled{logn, 1.25}),
		lat("scale-1.50", 95, logn, scaled{logn, 1.5}),
		lat("scale-2", 95, logn, scaled{logn, 2}),
		lat("p99-scale-2", 99, logn, scaled{logn, 2}),
		tail,
		lat("bimodal-5to15", 95, bimodal(0.05), bimodal(0.15)),
	}
	s[3].note = fmt.Sprintf("slow-mode share 5%% → %.3f%%, solved so the true p95 ratio is 1.08", 100*w108)
	s[13].note = "slow-mode share 5% → 15%"

	// Latency episodes (a noisy neighbour, a GC storm) of 20 s on average, once every 25 minutes
	// or so in each environment on its own: identical environments, and a real ×2 under them.
	episodic := &episodes{every: 1500, length: 20, level: 2}
	epAA := lat("episodes-aa", 95, logn, logn)
	epAA.slow = episodic
	ep2 := lat("episodes-scale-2", 95, logn, scaled{logn, 2})
	ep2.slow = episodic
	s = append(s, epAA, ep2)

	errs := []struct {
		name   string
		pb, pc float64
	}{
		{"aa-0", 0, 0},
		{"aa-0.1", 0.001, 0.001},
		{"0-to-0.5", 0, 0.005},
		{"0.1-to-0.6", 0.001, 0.006},
		{"0-to-1", 0, 0.01},
		{"0-to-2", 0, 0.02},
		{"0.1-to-1.1", 0.001, 0.011},
		{"0-to-5", 0, 0.05},
		{"0.1-to-5.1", 0.001, 0.051},
	}
	for _, e := range errs {
		s = append(s, &scenario{name: "errors/" + e.name, errors: true, pb: e.pb, pc: e.pc})
	}
	// Bursts of errors (a failing dependency, a retry storm) of 3 s on average at 30% errors,
	// once every 2 minutes or so in each environment on its own, over a 0.1% background. Both
	// are set so that the default Analysis judged by the first version of the judge rolls back
	// about as often as measured outside (24% and 3.7% of healthy analyses at 100 observations
	// per second).
	bursts := &episodes{every: 130, length: 3, level: 0.3}
	for _, e := range []struct {
		name   string
		pb, pc float64
	}{
		{"bursty-aa", 0.001, 0.001},
		{"bursty-+5pp", 0.001, 0.051},
	} {
		s = append(s, &scenario{name: "errors/" + e.name, errors: true, pb: e.pb, pc: e.pc, bursts: bursts})
	}
	for _, sc := range s {
		// The other metric, for judges that check both: identical on both sides.
		if sc.errors {
			sc.percentile, sc.base, sc.cand = 95, logn, logn
		}
	}
	return s
}

// selectScenarios keeps the scenarios whose name matches re.
func selectScenarios(all []*scenario, re *regexp.Regexp) []*scenario {
	var out []*scenario
	for _, s := range all {
		if re.MatchString(s.name) {
			out = append(out, s)
		}
	}
	return out
}

// loadAt is the load factor at second t (1 without a load pattern).
func (s *scenario) loadAt(t, horizon float64) float64 {
	if s.load == nil {
		return 1
	}
	return s.load(t, horizon)
}
