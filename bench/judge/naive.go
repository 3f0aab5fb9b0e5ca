package main

import (
	"math"
	"sync"
)

// naiveMinSamples is the sample size per side below which the naive judge does not test, the
// same as greenlight's default MinSamples.
const naiveMinSamples = 20

// naiveJudge re-runs a fixed-sample one-sided test at level α every second on all the raw data
// so far and rolls back at the first rejection; it promotes at the horizon. Latency: Mann-Whitney
// (green stochastically larger), ignoring the tolerance. Errors: the pooled two-proportion
// z-test (green rate larger), ignoring the tolerance too. Each single test is valid; looking
// again every second is what breaks it.
type naiveJudge struct {
	errors bool
	zCrit  float64
	ranks  *rankCounter
	errs   [2]int64
	total  [2]int64
}

func newNaive(s *scenario, cfg *simConfig) (judge, error) {
	j := &naiveJudge{errors: s.errors, zCrit: normalQuantile(1 - cfg.alpha)}
	if !s.errors {
		j.ranks = rankPool.Get().(*rankCounter)
		j.ranks.reset()
	}
	return j, nil
}

func (j *naiveJudge) observe(tk *tick) verdict {
	var z float64
	if j.errors {
		for side := range 2 {
			j.errs[side] += tk.errs[side]
			j.total[side] += tk.total[side]
		}
		z = twoProportionZ(j.errs[blue], j.total[blue], j.errs[green], j.total[green])
	} else {
		for side := range 2 {
			for _, v := range tk.lat[side] {
				j.ranks.add(side, v)
			}
		}
		z = j.ranks.z()
	}
	if z > j.zCrit {
		j.release()
		return rollback
	}
	return undecided
}

func (j *naiveJudge) final() verdict {
	j.release()
	return promote
}

func (j *naiveJudge) release() {
	if j.ranks != nil {
		rankPool.Put(j.ranks)
		j.ranks = nil
	}
}

// twoProportionZ is the pooled z statistic for green's rate above blue's; 0 when it is
// undefined (too few samples, or no errors at all).
func twoProportionZ(xb, nb, xc, nc int64) float64 {
	if nb < naiveMinSamples || nc < naiveMinSamples {
		return 0
	}
	p := float64(xb+xc) / float64(nb+nc)
	se := math.Sqrt(p * (1 - p) * (1/float64(nb) + 1/float64(nc)))
	if se == 0 {
		return 0
	}
	return (float64(xc)/float64(nc) - float64(xb)/float64(nb)) / se
}

// Latencies are ranked on a logarithmic grid of 0.1% steps from 10µs to 10⁴ s: values within
// 0.1% of each other tie, and the tie correction accounts for it. That keeps Mann-Whitney's U
// exact on the grid and updatable in O(log bins) per observation, so re-testing every second
// costs nothing like re-sorting all the data.
var (
	rankLogMin  = math.Log(1e-5)
	rankLogStep = math.Log(1.001)
	rankBins    = int(math.Ceil((math.Log(1e4)-rankLogMin)/rankLogStep)) + 1
	rankPool    = sync.Pool{New: func() any { return newRankCounter() }}
)

// rankCounter maintains U for green against blue, and the tie term, as values arrive.
type rankCounter struct {
	tree  [2][]int32 // Fenwick trees of counts per bin, per side
	count [2][]int32 // counts per bin, per side
	n     [2]int64
	twoU  int64   // 2·U: pairs with green above blue count 2, ties 1
	ties  float64 // Σ(t³ − t) over bins
}

func newRankCounter() *rankCounter {
	r := &rankCounter{}
	for s := range 2 {
		r.tree[s] = make([]int32, rankBins+1)
		r.count[s] = make([]int32, rankBins)
	}
	return r
}

func (r *rankCounter) reset() {
	for s := range 2 {
		clear(r.tree[s])
		clear(r.count[s])
	}
	r.n, r.twoU, r.ties = [2]int64{}, 0, 0
}

func rankBin(v float64) int {
	i := int((math.Log(v) - rankLogMin) / rankLogStep)
	return min(max(i, 0), rankBins-1)
}

// below is the number of values of side s in bins < i.
func (r *rankCounter) below(s, i int) int64 {
	var c int64
	for t := r.tree[s]; i > 0; i -= i & -i {
		c += int64(t[i])
	}
	return c
}

func (r *rankCounter) add(s int, v float64) {
	i := rankBin(v)
	other := 1 - s
	tied := int64(r.count[other][i])
	if s == green {
		r.twoU += 2*r.below(blue, i) + tied
	} else {
		r.twoU += 2*(r.n[green]-r.below(green, i+1)) + tied
	}
	t := float64(r.count[blue][i] + r.count[green][i])
	r.ties += 3*t*t + 3*t // (t+1)³ − (t+1) − (t³ − t)
	r.count[s][i]++
	r.n[s]++
	for tree, j := r.tree[s], i+1; j <= rankBins; j += j & -j {
		tree[j]++
	}
}

// u is Mann-Whitney's U for green.
func (r *rankCounter) u() float64 { return float64(r.twoU) / 2 }

// z is the one-sided statistic for green larger, with tie and continuity corrections; 0 below
// the minimum sample size.
func (r *rankCounter) z() float64 {
	nb, nc := float64(r.n[blue]), float64(r.n[green])
	if r.n[blue] < naiveMinSamples || r.n[green] < naiveMinSamples {
		return 0
	}
	sd := math.Sqrt(mwVariance(nc, nb, r.ties))
	if !(sd > 0) {
		return 0
	}
	return (r.u() - nc*nb/2 - 0.5) / sd
}
