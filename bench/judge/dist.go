package main

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// dist is a latency distribution in seconds whose CDF is known, so the bench can state the
// truth (true quantiles, true exceedance probabilities) that the judges are scored against.
type dist interface {
	sample(r *rand.Rand) float64
	cdf(x float64) float64
	String() string
}

// lognormal is exp(N(ln median, sigma²)): the usual shape of service latency.
type lognormal struct{ median, sigma float64 }

func (d lognormal) sample(r *rand.Rand) float64 {
	return d.median * math.Exp(d.sigma*r.NormFloat64())
}

func (d lognormal) cdf(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-math.Log(x/d.median)/(d.sigma*math.Sqrt2))
}

func (d lognormal) String() string {
	return fmt.Sprintf("lognormal(median %s, σ %g)", ms(d.median), d.sigma)
}

// pareto has a power-law tail: P(X > x) = (xm/x)^shape for x ≥ xm. Sampled by inverse CDF.
type pareto struct{ xm, shape float64 }

func (d pareto) sample(r *rand.Rand) float64 {
	return d.xm * math.Pow(1-r.Float64(), -1/d.shape) // 1-U is in (0, 1]
}

func (d pareto) cdf(x float64) float64 {
	if x < d.xm {
		return 0
	}
	return 1 - math.Pow(d.xm/x, d.shape)
}

func (d pareto) String() string { return fmt.Sprintf("Pareto(xm %s, shape %g)", ms(d.xm), d.shape) }

// scaled multiplies every value by k: every quantile moves by the same factor.
type scaled struct {
	d dist
	k float64
}

func (d scaled) sample(r *rand.Rand) float64 { return d.k * d.d.sample(r) }
func (d scaled) cdf(x float64) float64       { return d.d.cdf(x / d.k) }
func (d scaled) String() string              { return fmt.Sprintf("%s ×%g", d.d, d.k) }

// shifted adds a constant: low quantiles move proportionally more than high ones.
type shifted struct {
	d dist
	c float64
}

func (d shifted) sample(r *rand.Rand) float64 { return d.d.sample(r) + d.c }
func (d shifted) cdf(x float64) float64       { return d.d.cdf(x - d.c) }
func (d shifted) String() string              { return fmt.Sprintf("%s +%s", d.d, ms(d.c)) }

// mixture draws from slow with probability w and from fast otherwise: a bimodal service
// (cache hits and misses, two code paths).
type mixture struct {
	w          float64
	fast, slow dist
}

func (d mixture) sample(r *rand.Rand) float64 {
	if r.Float64() < d.w {
		return d.slow.sample(r)
	}
	return d.fast.sample(r)
}

func (d mixture) cdf(x float64) float64 { return (1-d.w)*d.fast.cdf(x) + d.w*d.slow.cdf(x) }

func (d mixture) String() string {
	return fmt.Sprintf("%.2f%% %s + %.2f%% %s", 100*(1-d.w), d.fast, 100*d.w, d.slow)
}

// slowTail multiplies by k every value above q and leaves the rest alone: only the slowest
// requests regress; the median does not move.
type slowTail struct {
	d    dist
	q, k float64
}

func (d slowTail) sample(r *rand.Rand) float64 {
	x := d.d.sample(r)
	if x > d.q {
		return d.k * x
	}
	return x
}

func (d slowTail) cdf(x float64) float64 {
	if x < d.k*d.q {
		return d.d.cdf(math.Min(x, d.q))
	}
	return d.d.cdf(x / d.k)
}

func (d slowTail) String() string {
	return fmt.Sprintf("%s, values above %s ×%g", d.d, ms(d.q), d.k)
}

// quantile is the smallest x with cdf(x) ≥ p, by bisection; it copes with gaps in the support.
func quantile(d dist, p float64) float64 {
	lo, hi := 0.0, 1.0
	for d.cdf(hi) < p {
		lo, hi = hi, 2*hi
	}
	for i := 0; i < 200 && hi-lo > 1e-15*hi; i++ {
		m := lo + (hi-lo)/2
		if d.cdf(m) >= p {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}

// solve finds x in [lo, hi] with f(x) = target for an increasing f, by bisection.
func solve(f func(float64) float64, target, lo, hi float64) float64 {
	for i := 0; i < 200 && hi-lo > 1e-14; i++ {
		m := lo + (hi-lo)/2
		if f(m) < target {
			lo = m
		} else {
			hi = m
		}
	}
	return lo + (hi-lo)/2
}

// ms formats seconds as milliseconds.
func ms(v float64) string { return fmt.Sprintf("%.4gms", v*1000) }
