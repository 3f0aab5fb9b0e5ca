package main

import (
	"math"
	"slices"
)

// kayentaConfidence is NetflixACAJudge's hard-coded confidence level.
const kayentaConfidence = 0.98

// kayentaJudge is Kayenta's NetflixACAJudge for one metric with direction "increase": each
// environment is reduced to one point per 1-minute interval (its percentile, or its error
// rate), the points are compared with a two-sided Mann-Whitney test, and the metric is High —
// a rollback — when the difference is significant at 98% AND the mean ratio exceeds the allowed
// increase.
//
// For error rates the allowed increase is the bench's +0.5pp tolerance expressed as a mean
// ratio: (baseline mean + 0.005) ÷ baseline mean, which is "candidate mean − baseline mean >
// 0.5pp" for a non-zero baseline. A zero mean on either side makes Kayenta's mean ratio NaN, which
// never classifies as High: the metric passes, as in Kayenta (issue #674).
type kayentaJudge struct {
	errors  bool
	recheck bool // judge at every minute from the 3rd instead of once at the horizon
	pts     [2][]float64
}

func newKayenta(s *scenario, recheck bool) *kayentaJudge {
	return &kayentaJudge{errors: s.errors, recheck: recheck}
}

func (k *kayentaJudge) observe(tk *tick) verdict {
	if tk.minute == 0 {
		return undecided
	}
	for side := range 2 {
		// Kayenta's default NaN strategy removes missing points.
		if p := tk.point[side]; !math.IsNaN(p) {
			k.pts[side] = append(k.pts[side], p)
		}
	}
	if k.recheck && tk.minute >= 3 && k.high() {
		return rollback
	}
	return undecided
}

func (k *kayentaJudge) final() verdict {
	if !k.recheck && k.high() {
		return rollback
	}
	return promote
}

// high is Kayenta's classification: true for High, false for Pass or Nodata.
func (k *kayentaJudge) high() bool {
	return kayentaHigh(k.pts[blue], k.pts[green], k.errors)
}

func kayentaHigh(base, cand []float64, errors bool) bool {
	if len(base) == 0 || len(cand) == 0 {
		return false // Nodata
	}
	_, p := mannWhitney(cand, base)
	if !(p < 1-kayentaConfidence) {
		return false
	}
	mb, mc := mean(base), mean(cand)
	if mb == 0 || mc == 0 {
		return false // mean ratio NaN: never High
	}
	allowed := latencyMaxRatio
	if errors {
		allowed = (mb + errorMaxIncrease) / mb
	}
	return mc/mb > allowed
}

// mannWhitney returns U for x (the number of pairs with x above y, ties counting one half) and
// the two-sided p-value of the normal approximation with tie correction and continuity
// correction. All values tied gives p = 1.
func mannWhitney(x, y []float64) (u, p float64) {
	type obs struct {
		v   float64
		isX bool
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	var rankSumX, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		rank := float64(i+1+j) / 2 // average of ranks i+1 … j
		for _, o := range all[i:j] {
			if o.isX {
				rankSumX += rank
			}
		}
		ties += t*t*t - t
		i = j
	}
	n1, n2 := float64(len(x)), float64(len(y))
	u = rankSumX - n1*(n1+1)/2
	return u, mwTwoSided(u, n1, n2, ties)
}

// mwVariance is the variance of U under H0 with the tie correction; ties = Σ(t³ − t) over
// groups of tied values.
func mwVariance(n1, n2, ties float64) float64 {
	n := n1 + n2
	if n < 2 {
		return 0
	}
	return n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1)))
}

func mwTwoSided(u, n1, n2, ties float64) float64 {
	sd := math.Sqrt(mwVariance(n1, n2, ties))
	if !(sd > 0) {
		return 1
	}
	z := math.Max(math.Abs(u-n1*n2/2)-0.5, 0) / sd
	return math.Min(1, 2*normalSF(z))
}
