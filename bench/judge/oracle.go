package main

import "math"

// oracleTimes are the moments (seconds) at which the oracle's power is reported.
var oracleTimes = []int{30, 60, 120, 300, 900}

// oracleResult is the exact power over time of the best test a judge could hope for without
// seeing the future: one that knows the baseline's true value and looks only once, at level α,
// with the candidate's data so far.
//
// Latency: under H0 "green's p-quantile ≤ 1.2 × blue's true p-quantile q", each green request
// exceeds 1.2q with probability at most 1−p, so the count above 1.2q is stochastically at most
// Binomial(n, 1−p); the test rejects when the count reaches the smallest k with
// P(Binomial(n, 1−p) ≥ k) ≤ α. Errors: H0 "green's rate ≤ blue's true rate + 0.5pp", with the
// count of green errors. Power is P(Binomial(n, π) ≥ k) with π the true probability. On a healthy
// scenario it is the test's size, at most α by construction.
type oracleResult struct {
	Null    bool           `json:"null"`             // the truth is healthy: the power figures are sizes
	H0Prob  float64        `json:"h0_probability"`   // per-request probability at the H0 boundary
	TruProb float64        `json:"true_probability"` // the true per-request probability
	At      []oraclePoint  `json:"at"`
	Reach   map[string]int `json:"first_second_reaching"` // "50%", "90%" → second; absent if never
	MaxSize float64        `json:"max_power"`             // over every second of the horizon
}

type oraclePoint struct {
	Seconds int     `json:"seconds"`
	Power   float64 `json:"power"`
}

// oracleProbabilities returns the per-request probabilities at the H0 boundary and in truth.
func oracleProbabilities(s *scenario) (h0, tru float64) {
	if s.errors {
		return s.marginalRate(s.pb) + errorMaxIncrease, s.marginalRate(s.pc)
	}
	p := s.percentile / 100
	limit := latencyMaxRatio * quantile(s.marginal(s.base), p)
	// The load factor multiplies both sides alike, so π does not depend on time. With noise the
	// figures are those of independent observations from the long-run distributions.
	return 1 - p, 1 - s.marginal(s.cand).cdf(limit)
}

func oracle(s *scenario, rate, horizon int, alpha float64) oracleResult {
	h0, tru := oracleProbabilities(s)
	res := oracleResult{Null: s.truth().Healthy, H0Prob: h0, TruProb: tru, Reach: map[string]int{}}
	k := 0
	for t := 1; t <= horizon; t++ {
		n := rate * t
		// The critical count only grows with n, so search up from the last one.
		for k <= n && binomSF(n, k, h0) > alpha {
			k++
		}
		power := binomSF(n, k, tru)
		res.MaxSize = math.Max(res.MaxSize, power)
		for _, at := range oracleTimes {
			if at == t {
				res.At = append(res.At, oraclePoint{t, power})
			}
		}
		for _, r := range []struct {
			name string
			p    float64
		}{{"50%", 0.5}, {"90%", 0.9}} {
			if _, ok := res.Reach[r.name]; !ok && power >= r.p {
				res.Reach[r.name] = t
			}
		}
	}
	return res
}

// binomSF is P(X ≥ k) for X ~ Binomial(n, p), summed from the probability mass function in the
// direction where the terms shrink, so it is accurate far into either tail.
func binomSF(n, k int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n || p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	if float64(k) > float64(n)*p {
		return binomSum(n, k, p, +1)
	}
	return math.Max(0, 1-binomSum(n, k-1, p, -1))
}

// binomSum adds P(X = j) from j = k outwards (dir +1: up to n; −1: down to 0), stopping once the
// terms are negligible. k must be on the far side of the mean from where the sum heads.
func binomSum(n, k int, p float64, dir int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	logTerm := lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
	term := math.Exp(logTerm)
	if term == 0 {
		return 0
	}
	odds := p / (1 - p)
	sum := 0.0
	for j := k; j >= 0 && j <= n; j += dir {
		sum += term
		if term < 1e-17*sum {
			break
		}
		if dir > 0 {
			term *= float64(n-j) / float64(j+1) * odds
		} else {
			term *= float64(j) / float64(n-j+1) / odds
		}
	}
	return sum
}
