package compare

import (
	"math"
	"sync"
)

// The confidence sequences here come from the beta-binomial mixture martingale. For n Bernoulli
// observations with s successes and a Beta(a, b) mixing distribution,
//
//	M_n(p) = B(a+s, b+n-s) / B(a, b) / (p^s (1-p)^(n-s))
//
// is a nonnegative martingale with M_0 = 1 when the success probability is p, so by Ville's
// inequality P(∃n: M_n(p) ≥ 1/α) ≤ α. Hence {p : M_n(p) < 1/α} is a confidence sequence for p,
// valid at every n simultaneously (Robbins 1970; Howard et al. 2021, §3). log M is convex both in
// p and in s, so its sublevel sets are intervals, found by bisection.
//
// The same martingale, read as a function of s with p fixed, bounds how many of n observations
// can lie below the true p-quantile; that yields order-statistic bounds for a quantile valid at
// every n (Howard & Ramdas 2022). With ties the count of values strictly below the quantile has
// mean ≤ p and the count at or below it has mean ≥ p; the crossing events used are monotone, so
// by coupling with Bernoulli(p) the guarantee holds for them too.

func lbeta(a, b float64) float64 {
	x, _ := math.Lgamma(a)
	y, _ := math.Lgamma(b)
	z, _ := math.Lgamma(a + b)
	return x + y - z
}

// logMixture is log M_n(p) for s successes out of n with a Beta(a, b) mixture.
func logMixture(s, n, p, a, b float64) float64 {
	return lbeta(a+s, b+n-s) - lbeta(a, b) - xlogy(s, p) - xlogy(n-s, 1-p)
}

// xlogy is x·log(y) with 0·log(0) = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// Mixing distributions. For proportions (error rates, which are usually small) a Beta(0.5, 10)
// with most mass near zero keeps the upper bound of a zero-error baseline tight (2.3% after 300
// clean requests at α/2 = 0.005) without making a total outage slow to bound from below (68%
// after 100 failures of 100). For a probability near one half (the shift check's
// P(candidate > baseline)) a symmetric Beta(5, 5) does the same job.
//
// For quantile ranks one prior centred on p cannot be tight at every sample size: its weight
// sets the scale of deviations it bets on, a few hundred samples for a weight of 16. So the
// rank sequence mixes priors of weights 16, 256, 4096 and 65536 (the first with half the mass:
// an analysis decides most often with a few hundred samples), which costs at most log 6 in
// evidence. Measured for a p95 at α = 0.25%: about 1.5 times the width of the one-sided
// fixed-n interval from 300 to 90,000 samples, where the weight-16 prior alone grew to 1.6.
var (
	rateMixture  = mixture{0.5, 10}
	shiftMixture = mixture{5, 5}
)

// rankPriors are the weights of the rank sequence's mixed priors, with their masses.
var rankPriors = []struct{ weight, mass float64 }{{16, 0.5}, {256, 1.0 / 6}, {4096, 1.0 / 6}, {65536, 1.0 / 6}}

// mixture is the Beta(a, b) mixing distribution of a proportion's confidence sequence.
type mixture struct{ a, b float64 }

// proportionCS returns the interval [lo, hi] of success probabilities p for which M_n(p) < 1/α,
// given s successes out of n. With n = 0 it is [0, 1].
func proportionCS(s, n int64, alpha float64, mix mixture) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	S, N := float64(s), float64(n)
	thr := math.Log(1 / alpha)
	f := func(p float64) float64 { return logMixture(S, N, p, mix.a, mix.b) }
	phat := S / N
	lo, hi = 0, 1
	if s > 0 {
		if l := 1e-15; f(l) >= thr {
			lo = bisect(l, phat, func(p float64) bool { return f(p) < thr })
		}
	}
	if s < n {
		if h := 1 - 1e-15; f(h) >= thr {
			hi = bisectDown(phat, h, func(p float64) bool { return f(p) < thr })
		}
	}
	return lo, hi
}

// bisect finds, in [lo, hi] where inside(lo) is false and inside(hi) is true, the boundary
// (returned as the smallest point known to be inside).
func bisect(lo, hi float64, inside func(float64) bool) float64 {
	for i := 0; i < 100 && hi-lo > 1e-12*math.Max(1, math.Abs(hi)); i++ {
		m := lo + (hi-lo)/2
		if inside(m) {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}

// bisectDown finds, in [lo, hi] where inside(lo) is true and inside(hi) is false, the boundary
// (returned as the largest point known to be inside).
func bisectDown(lo, hi float64, inside func(float64) bool) float64 {
	for i := 0; i < 100 && hi-lo > 1e-12*math.Max(1, math.Abs(hi)); i++ {
		m := lo + (hi-lo)/2
		if inside(m) {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// rankBounds returns, for n observations and the p-quantile, the ranks (1-based order
// statistics) that bound the quantile at level α for every n at once:
//
//	X_(lo) ≤ q_p ≤ X_(hi)
//
// lo = 0 means no lower bound yet (−∞ / the smallest possible value); hi = n+1 means no upper
// bound yet (+∞).
func rankBounds(n int64, p, alpha float64) (lo, hi int64) {
	if n <= 0 {
		return 0, 1
	}
	key := rankKey{n, p, alpha}
	if v, ok := rankCache.Load(key); ok {
		r := v.([2]int64)
		return r[0], r[1]
	}
	N := float64(n)
	thr := math.Log(1 / alpha)
	// log Σ mass·M(s): a log-sum-exp of functions convex in s, so convex too.
	f := func(s float64) float64 {
		m, terms := math.Inf(-1), [4]float64{}
		for i, pr := range rankPriors {
			terms[i] = math.Log(pr.mass) + logMixture(s, N, p, p*pr.weight, (1-p)*pr.weight)
			m = math.Max(m, terms[i])
		}
		sum := 0.0
		for _, v := range terms[:len(rankPriors)] {
			sum += math.Exp(v - m)
		}
		return m + math.Log(sum)
	}
	center := N * p
	// sLo: the smallest count of observations ≤ q that the sequence still allows. Then at least
	// ceil(sLo) observations are ≤ q, so X_(ceil(sLo)) ≤ q.
	sLo := 0.0
	if f(0) >= thr {
		sLo = bisect(0, center, func(s float64) bool { return f(s) < thr })
	}
	// sHi: the largest count of observations < q allowed. Then fewer than floor(sHi)+1
	// observations are < q, so X_(floor(sHi)+1) ≥ q.
	sHi := N
	if f(N) >= thr {
		sHi = bisectDown(center, N, func(s float64) bool { return f(s) < thr })
	}
	lo = int64(math.Ceil(sLo - 1e-9))
	hi = int64(math.Floor(sHi+1e-9)) + 1
	if lo < 0 {
		lo = 0
	}
	if hi > n+1 {
		hi = n + 1
	}
	if n <= rankCacheMaxN {
		rankCache.Store(key, [2]int64{lo, hi})
	}
	return lo, hi
}

type rankKey struct {
	n     int64
	p     float64
	alpha float64
}

// rankCache memoises rankBounds: simulations and long analyses ask for the same n again and
// again. Only n ≤ rankCacheMaxN is kept, so it holds at most that many entries per (p, α).
var rankCache sync.Map

const rankCacheMaxN = 1 << 17

// runningCS is the running intersection of a confidence sequence's intervals over the looks
// taken at it. It is as valid as each of them — the sequence covers the truth at every look at
// once, so it covers it in their intersection — and it never widens again: a check decided by it
// does not flip between pass and inconclusive as its estimate wanders near the limit. An empty
// intersection means the data stopped being one proportion (a drift); it starts again from the
// current interval.
type runningCS struct {
	lo, hi float64
	set    bool
}

// narrow takes the interval of this look and returns the running one.
func (r *runningCS) narrow(lo, hi float64) (float64, float64) {
	if r.set {
		nlo, nhi := max(r.lo, lo), min(r.hi, hi)
		if nlo <= nhi {
			lo, hi = nlo, nhi
		}
	}
	r.lo, r.hi, r.set = lo, hi, true
	return lo, hi
}

// writeState saves the running interval.
func (r *runningCS) writeState(w *stateWriter) {
	w.boolean(r.set)
	if r.set {
		w.float(r.lo)
		w.float(r.hi)
	}
}

// readRunningCS reads what writeState saved: a proportion's interval, 0 ≤ lo ≤ hi ≤ 1.
func readRunningCS(r *stateReader) runningCS {
	if !r.boolean() {
		return runningCS{}
	}
	cs := runningCS{lo: r.float(), hi: r.float(), set: true}
	if r.ok() && !(cs.lo >= 0 && cs.lo <= cs.hi && cs.hi <= 1) {
		r.fail("interval [%v, %v] is not a proportion's", cs.lo, cs.hi)
	}
	return cs
}
