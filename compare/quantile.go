package compare

import (
	"math"
	"slices"
)

// quantileBounds bounds one side's p-quantile q from below and from above, at every moment,
// with betting e-processes evaluated at the boundaries x_k of a logarithmic grid of cells:
//
//   - the lower bound is the largest x_k at which "q ≤ x_k" is rejected. Under it each
//     observation exceeds x_k with probability at most β = 1 − p, so 1{X > x_k} − β is the
//     bounded statistic with mean ≤ 0 that the stakes bet on;
//   - the upper bound is the smallest x_k at which "q ≥ x_k" is rejected. Under it each
//     observation is at least x_k with probability at least β, so the stakes bet on
//     β − 1{X ≥ x_k}, counted conservatively as β − 1{X > x_{k−1}} (a value in the cell just
//     below x_k may equal it).
//
// Both are distribution-free: ties, heavy tails and several modes need no model, only
// independent observations; the per-block cap bounds what a burst of dependent ones can add.
// Rejection at x_k is monotone in k for every stake, so each bound is found by bisection.
//
// The grid is centred on the first gridAfter observations' quantile. Within gridFine times of
// that centre it steps by gridStep, fine enough that a bound near the data is never more than
// 0.2% from where the data put it; beyond, each step is gridGrowth times the one before, out to
// gridSpan times above and below. A point between boundaries is tested at the boundary on the
// conservative side, so coarser steps far from the data cost a little power where the evidence is
// overwhelming anyway, never validity. Outside the grid the bounds stop at its edges (a lower
// bound is at most the top edge, an upper bound at least the bottom edge): conservative, never
// wrong. The grid has about 630 boundaries, a quarter of a uniform one's, which is what a side's
// memory and the cost of closing a block scale with.
type quantileBounds struct {
	beta float64    // 1 − p
	cap  [2]float64 // per-block cap in nats, by test

	placed bool
	center float64   // log of the grid's centre
	k      int       // number of boundaries
	xs     []float64 // xs[k+1] = x_k, from x_{−1}
	// lw[t][k·S+s] is the capped log-wealth of stake s at boundary k over the closed blocks, in
	// fixed point (see wealthUnit); t = 0 for the lower-bound test, 1 for the upper-bound test.
	lw [2][]int32
	// fac[t][0][s] is stake s's log-factor for an observation that counts against the null
	// (y = 1 above), fac[t][1][s] for one that does not.
	fac [2][2][]float64

	open   []float64   // the open block's values
	sorted bool        // open is in order
	early  [][]float64 // closed blocks from before the grid was placed
	n      int64

	// A cache of log-wealths by test and boundary, valid while stamp[t][k] == gen: one
	// evaluation asks for the same boundaries again and again; any new observation or block
	// invalidates it.
	cache [2][]float64
	stamp [2][]uint32
	gen   uint32
	buf   []float64
}

const (
	gridAfter  = 20
	gridSpan   = 8.0
	gridFine   = 1.5
	gridGrowth = 1.03
)

var gridStep = math.Log(1.002)

// A closed-block log-wealth is kept as a whole number of wealthUnit nats between wealthFloor
// and wealthCeiling, which halves a side's memory against float64 and keeps every rounding on
// the conservative side:
//   - each block's gain is rounded down to a whole unit (at most 2⁻²⁰ nats lost per block);
//   - above the ceiling a wealth is cut down to it — lowering a wealth never makes a test
//     reject more; e^2000 is far beyond any level a check asks for;
//   - below the floor it is raised to it. That stake has all but lost its bet; raising it is
//     as if a new bettor joined with e^−40 of capital, and the mixture of the original wealth
//     and every such newcomer is still a test supermartingale with expectation at most
//     1 + (blocks)·e^−40: for a million blocks, an excess below 10⁻¹¹.
const (
	wealthUnit    = 1.0 / (1 << 20)
	wealthFloor   = -40 << 20
	wealthCeiling = 2000 << 20
)

// addWealth adds gain nats to a fixed-point wealth, rounding down and keeping it in range.
func addWealth(w int32, gain float64) int32 {
	v := float64(w) + math.Floor(gain/wealthUnit)
	return int32(math.Max(wealthFloor, math.Min(wealthCeiling, v)))
}

// gridOffsets are the boundaries' offsets from the centre in log space, in order, from the one
// below the first (x_{−1}) to the last. Every grid has the same.
var gridOffsets = func() []float64 {
	var up []float64 // positive offsets
	step, o := gridStep, 0.0
	for o < math.Log(gridSpan) {
		if o >= math.Log(gridFine) {
			step *= gridGrowth
		}
		o += step
		up = append(up, o)
	}
	out := make([]float64, 0, 2*len(up)+2)
	for i := len(up) - 1; i >= 0; i-- {
		out = append(out, -up[i])
	}
	out = append(out, 0)
	out = append(out, up...)
	// x_{−1} sits one step below x_0.
	return append([]float64{out[0] - (out[1] - out[0])}, out...)
}()

// newQuantileBounds bounds the p-quantile. Only the evidence of a higher quantile is capped per
// block: that is what a burst of slow responses produces; evidence of a lower one accrues from
// ordinary observations.
func newQuantileBounds(p, cap float64) *quantileBounds {
	q := &quantileBounds{beta: 1 - p, cap: [2]float64{cap, math.Inf(1)}}
	for _, s := range stakes {
		// Lower-bound test: stake λ = s/β on 1{X > x} − β.
		q.fac[0][0] = append(q.fac[0][0], math.Log1p(s*(1-q.beta)/q.beta))
		q.fac[0][1] = append(q.fac[0][1], math.Log1p(-s))
		// Upper-bound test: stake λ = s/(1−β) on β − 1{X ≥ x}.
		q.fac[1][0] = append(q.fac[1][0], math.Log1p(-s))
		q.fac[1][1] = append(q.fac[1][1], math.Log1p(s*q.beta/(1-q.beta)))
	}
	return q
}

func (q *quantileBounds) add(v float64) {
	q.open = append(q.open, v)
	q.sorted = false
	q.n++
	q.gen++
	if len(q.open) >= maxBlockObservations {
		q.closeBlock()
	}
}

// closeBlock folds the open block into the closed evidence (or keeps it aside until the grid
// is placed).
func (q *quantileBounds) closeBlock() {
	if len(q.open) == 0 {
		return
	}
	q.gen++
	if !q.placed && q.n < gridAfter {
		q.early = append(q.early, q.open)
		q.open = nil
		return
	}
	q.place()
	q.sortOpen()
	q.fold(q.open)
	q.open = q.open[:0]
}

// place sets the grid around the quantile of the values seen so far and folds the blocks kept
// aside into it.
func (q *quantileBounds) place() {
	if q.placed {
		return
	}
	var all []float64
	for _, b := range q.early {
		all = append(all, b...)
	}
	all = append(all, q.open...)
	slices.Sort(all)
	center := all[min(len(all)-1, int(math.Ceil((1-q.beta)*float64(len(all))))-1)]
	q.placeAt(math.Log(math.Max(center, minIndexable)))
	for _, b := range q.early {
		slices.Sort(b)
		q.fold(b)
	}
	q.early = nil
}

// placeAt sets the grid around e^center, with no evidence yet.
func (q *quantileBounds) placeAt(center float64) {
	q.center = center
	q.k = len(gridOffsets) - 1
	q.xs = make([]float64, q.k+1)
	for k, o := range gridOffsets {
		q.xs[k] = math.Exp(center + o)
	}
	for t := range q.lw {
		q.lw[t] = make([]int32, q.k*len(stakes))
		q.cache[t] = make([]float64, q.k)
		q.stamp[t] = make([]uint32, q.k)
	}
	q.buf = make([]float64, len(stakes))
	q.gen++
	q.placed = true
}

// boundary is x_k, for k from −1 to q.k − 1; past either end the grid's end steps repeat.
func (q *quantileBounds) boundary(k int) float64 {
	switch {
	case k < -1:
		return q.xs[0] * math.Pow(q.xs[0]/q.xs[1], float64(-1-k))
	case k >= q.k:
		return q.xs[q.k] * math.Pow(q.xs[q.k]/q.xs[q.k-1], float64(k-q.k+1))
	}
	return q.xs[k+1]
}

// firstAtOrAbove is the first boundary index k (0 … q.k) with x_k ≥ h; q.k when none is.
func (q *quantileBounds) firstAtOrAbove(h float64) int {
	i, _ := slices.BinarySearch(q.xs[1:], h)
	return i
}

// lastAtOrBelow is the last boundary index k (−1 … q.k − 1) with x_k ≤ h; −2 when none is.
func (q *quantileBounds) lastAtOrBelow(h float64) int {
	return upperIndex(q.xs, h) - 2
}

// fold adds one block's capped evidence at every boundary; vals must be sorted. The count above
// a boundary changes at most len(vals) times along the grid, so each stake's gain is computed
// once per count and added where it holds.
func (q *quantileBounds) fold(vals []float64) {
	m := float64(len(vals))
	S := len(stakes)
	gain := func(t int, above float64, into []float64) {
		for s := range into {
			into[s] = math.Min(q.cap[t], above*q.fac[t][0][s]+(m-above)*q.fac[t][1][s])
		}
	}
	gLo, gHi := make([]float64, S), make([]float64, S)
	j := upperIndex(vals, q.xs[0]) // vals[:j] ≤ the boundary below the current one
	prevAbove := float64(len(vals) - j)
	curLo, curHi := -1.0, -1.0 // the counts gLo and gHi are for
	for k := 0; k < q.k; k++ {
		x := q.xs[k+1]
		for j < len(vals) && vals[j] <= x {
			j++
		}
		above := float64(len(vals) - j)
		if above != curLo {
			gain(testAbove, above, gLo)
			curLo = above
		}
		if prevAbove != curHi {
			gain(testBelow, prevAbove, gHi)
			curHi = prevAbove
		}
		lo, hi := q.lw[0][k*S:(k+1)*S], q.lw[1][k*S:(k+1)*S]
		for s := range lo {
			lo[s] = addWealth(lo[s], gLo[s])
			hi[s] = addWealth(hi[s], gHi[s])
		}
		prevAbove = above
	}
}

func (q *quantileBounds) sortOpen() {
	if !q.sorted {
		slices.Sort(q.open)
		q.sorted = true
	}
}

// Tests, by index in lw: evidence that the quantile is above a point (its lower bound), and
// evidence that it is below one (its upper bound).
const (
	testAbove = 0
	testBelow = 1
)

// logWealth is the mixture's log-wealth of test t at boundary k, with the open block's
// evidence (capped like a closed block's) added. The grid must be placed.
func (q *quantileBounds) logWealth(t, k int) float64 {
	if q.stamp[t][k] == q.gen {
		return q.cache[t][k]
	}
	q.sortOpen()
	S := len(stakes)
	// The open block's count of values above x_k (above-test) or above x_{k−1} (below-test).
	x := q.boundary(k - t)
	above := float64(len(q.open) - upperIndex(q.open, x))
	m := float64(len(q.open))
	for s := range stakes {
		q.buf[s] = float64(q.lw[t][k*S+s])*wealthUnit + math.Min(q.cap[t], above*q.fac[t][0][s]+(m-above)*q.fac[t][1][s])
	}
	v := mixtureLog(q.buf)
	q.cache[t][k], q.stamp[t][k] = v, q.gen
	return v
}

// pessimistic is the least log-wealth either test can have anywhere: as if every observation
// had counted for the null. It stands for points beyond the grid.
func (q *quantileBounds) pessimistic() float64 {
	for s := range stakes {
		q.buf[s] = float64(q.n) * math.Log1p(-stakes[s])
	}
	return mixtureLog(q.buf)
}

// ready places the grid if there are enough observations; false while there are not.
func (q *quantileBounds) ready() bool {
	if !q.placed {
		if q.n < gridAfter {
			return false
		}
		q.place()
	}
	return true
}

// aboveAt is a lower bound on the evidence that the quantile is above h: the above-test's
// log-wealth at the first boundary at or over h (fewer values exceed a higher point).
func (q *quantileBounds) aboveAt(h float64) float64 {
	if !q.ready() {
		return math.Inf(-1)
	}
	k := 0
	if h > 0 {
		k = q.firstAtOrAbove(h)
	}
	if k >= q.k {
		return q.pessimistic()
	}
	return q.logWealth(testAbove, k)
}

// belowAt is a lower bound on the evidence that the quantile is below h: the below-test's
// log-wealth at the last boundary at or under h.
func (q *quantileBounds) belowAt(h float64) float64 {
	if !q.ready() {
		return math.Inf(-1)
	}
	if h <= 0 {
		return q.pessimistic()
	}
	k := q.lastAtOrBelow(h)
	if k < 0 {
		return q.pessimistic()
	}
	return q.logWealth(testBelow, min(k, q.k-1))
}

// upperIndex is the number of sorted values ≤ x.
func upperIndex(sorted []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(sorted, x, func(v, x float64) int {
		if v <= x {
			return -1
		}
		return 1
	})
	return i
}

// bounds returns the lower bound at level alphaLo and the upper bound at level alphaHi: 0 and
// +Inf while nothing is known.
func (q *quantileBounds) bounds(alphaLo, alphaHi float64) (lo, hi float64) {
	lo, hi = 0, math.Inf(1)
	if !q.ready() {
		return lo, hi
	}
	// Lower: the largest k whose test rejects (rejection weakens as k grows).
	thr := math.Log(1 / alphaLo)
	if q.logWealth(testAbove, 0) >= thr {
		a, b := 0, q.k // rejects at a; b is past the last known
		for b-a > 1 {
			m := (a + b) / 2
			if q.logWealth(testAbove, m) >= thr {
				a = m
			} else {
				b = m
			}
		}
		lo = q.boundary(a)
	}
	// Upper: the smallest k whose test rejects (rejection strengthens as k grows).
	thr = math.Log(1 / alphaHi)
	if q.logWealth(testBelow, q.k-1) >= thr {
		a, b := -1, q.k-1 // b rejects
		for b-a > 1 {
			m := (a + b) / 2
			if q.logWealth(testBelow, m) >= thr {
				b = m
			} else {
				a = m
			}
		}
		hi = q.boundary(b)
	}
	return lo, hi
}
