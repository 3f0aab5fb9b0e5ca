package main

import (
	"math"
	"slices"
)

// judgeStats summarises one judge on one scenario at one rate.
type judgeStats struct {
	Judge        string     `json:"judge"`
	Runs         int        `json:"runs"`
	Rollbacks    int        `json:"rollbacks"`
	Promotes     int        `json:"promotes"`
	Inconclusive int        `json:"inconclusive"`
	RollbackRate float64    `json:"rollback_rate"` // false-rollback rate on healthy scenarios, detection rate on regressions
	RollbackCI   [2]float64 `json:"rollback_rate_wilson95"`
	PromoteRate  float64    `json:"promote_rate"`
	InconRate    float64    `json:"inconclusive_rate"`
	RollbackTime timeStats  `json:"rollback_seconds"` // over the runs that rolled back
	PromoteTime  timeStats  `json:"promote_seconds"`  // over the runs that promoted
	// RollbackHalf and PromoteHalf are the seconds by which half of all runs had rolled back
	// (promoted): the median over every run, counting a run that never did as never; null when
	// fewer than half did.
	RollbackHalf *float64 `json:"rollback_half_seconds"`
	PromoteHalf  *float64 `json:"promote_half_seconds"`
}

// timeStats are times to a decision in simulated seconds; nil figures when N is 0.
type timeStats struct {
	N      int      `json:"n"`
	Median *float64 `json:"median"`
	P90    *float64 `json:"p90"`
}

func summarise(name string, ds []decision) judgeStats {
	st := judgeStats{Judge: name, Runs: len(ds)}
	var rb, pr []float64
	for _, d := range ds {
		switch d.v {
		case rollback:
			st.Rollbacks++
			rb = append(rb, float64(d.at))
		case promote:
			st.Promotes++
			pr = append(pr, float64(d.at))
		default:
			st.Inconclusive++
		}
	}
	n := float64(st.Runs)
	if n > 0 {
		st.RollbackRate = float64(st.Rollbacks) / n
		st.PromoteRate = float64(st.Promotes) / n
		st.InconRate = float64(st.Inconclusive) / n
	}
	st.RollbackCI[0], st.RollbackCI[1] = wilson(st.Rollbacks, st.Runs)
	st.RollbackTime = times(rb)
	st.PromoteTime = times(pr)
	st.RollbackHalf = half(rb, st.Runs)
	st.PromoteHalf = half(pr, st.Runs)
	return st
}

// half is the ceil(runs/2)-th smallest of sorted v, nil when v has fewer values.
func half(sorted []float64, runs int) *float64 {
	k := (runs + 1) / 2
	if runs == 0 || len(sorted) < k {
		return nil
	}
	v := sorted[k-1]
	return &v
}

func times(v []float64) timeStats {
	t := timeStats{N: len(v)}
	if len(v) == 0 {
		return t
	}
	slices.Sort(v)
	med, p90 := nearestRank(v, 0.5), nearestRank(v, 0.9)
	t.Median, t.P90 = &med, &p90
	return t
}

// nearestRank is the ceil(p·n)-th smallest of sorted v.
func nearestRank(sorted []float64, p float64) float64 {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// wilson is the Wilson score 95% interval for k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	N, p := float64(n), float64(k)/float64(n)
	den := 1 + z*z/N
	c := (p + z*z/(2*N)) / den
	h := z / den * math.Sqrt(p*(1-p)/N+z*z/(4*N*N))
	return math.Max(0, c-h), math.Min(1, c+h)
}
