package compare

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Latency compares a percentile (p50 … p99.9) of the candidate's latencies with the baseline's,
// from raw values in seconds. It is distribution-free: each side's percentile is bounded from
// below and above by betting e-processes on how many observations exceed each point of a fine
// logarithmic grid (see quantileBounds), so heavy tails, ties and several modes need no model.
// Evidence is capped per block of time (Config.Block): a latency episode of a few seconds in one
// environment cannot decide alone. Memory per side is bounded: the grid, the open block, and a
// sketch for the percentile shown.
type Latency struct {
	cfg   Config
	t     Threshold
	p     float64 // as a fraction: 0.95
	pct   float64 // as written: 95
	sk    [2]*Sketch
	q     [2]*quantileBounds
	clock blockClock
}

// NewLatency returns a latency check of the given percentile (95, 99.9, …).
func NewLatency(cfg Config, percentile float64, t Threshold) (*Latency, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !(percentile > 0 && percentile < 100) {
		return nil, fmt.Errorf("%w: percentile must be in (0, 100), got %v", ErrConfig, percentile)
	}
	if t, err = t.validate(); err != nil {
		return nil, err
	}
	c := &Latency{cfg: cfg, t: t, p: percentile / 100, pct: percentile, sk: [2]*Sketch{NewSketch(), NewSketch()},
		clock: blockClock{length: cfg.Block, rate: latencyCap}}
	for s := range c.q {
		c.q[s] = newQuantileBounds(c.p, c.clock.cap())
	}
	return c, nil
}

// Add records one latency in seconds. NaN, infinities and negative values are rejected.
func (c *Latency) Add(side Side, seconds float64) error {
	if err := c.sk[side].Add(seconds); err != nil {
		return err
	}
	c.q[side].add(seconds)
	return nil
}

// Advance tells the check how long the analysis has run: observations added from now on belong
// to the block that contains elapsed. Without Config.Block it does nothing.
func (c *Latency) Advance(elapsed time.Duration) {
	if c.clock.advance(elapsed) {
		for _, q := range c.q {
			q.closeBlock()
		}
	}
}

// Sketch returns a side's values (read-only use).
func (c *Latency) Sketch(side Side) *Sketch { return c.sk[side] }

// Evaluate judges the check now.
func (c *Latency) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "latency", Metric: percentileName(c.pct), Alpha: c.cfg.Alpha}
	for s, e := range []*Estimate{&o.Baseline, &o.Candidate} {
		*e = Estimate{N: c.sk[s].Count(), Value: c.sk[s].Quantile(c.p)}
		e.Lower, e.Upper = c.q[s].bounds(c.cfg.Alpha/2, c.cfg.PassAlpha/2)
	}
	o.Threshold = c.t
	names := [2]string{c.cfg.BaselineName, c.cfg.CandidateName}
	if o.Baseline.N < c.cfg.MinSamples || o.Candidate.N < c.cfg.MinSamples {
		effects(&o)
		judgeEffects(&o, c.t, secondsUnit, c.cfg.MinSamples, names)
		return o
	}
	lv := newLevels(c.cfg, c.t)
	above := func(mk func(float64) link, a float64) func(float64) bool {
		return func(v float64) bool { return c.rejectsAbove(mk(v), a) }
	}
	below := func(mk func(float64) link, a float64) func(float64) bool {
		return func(v float64) bool { return c.rejectsBelow(mk(v), a) }
	}
	inf := math.Inf(1)
	o.Ratio = Effect{Value: ratio(o.Candidate.Value, o.Baseline.Value),
		Lower: lowerEnd(above(ratioLink, lv.lower), 1e-3, 1e3, 0, true),
		Upper: upperEnd(below(ratioLink, lv.upper), 1e-3, 1e3, inf, true)}
	span := 10 * math.Max(o.Baseline.Value, o.Candidate.Value)
	o.Diff = Effect{Value: o.Candidate.Value - o.Baseline.Value,
		Lower: lowerEnd(above(plusLink, lv.lower), -span, span, -inf, false),
		Upper: upperEnd(below(plusLink, lv.upper), -span, span, inf, false)}
	alignAll(&o, c.decisions())
	judgeEffects(&o, c.t, secondsUnit, c.cfg.MinSamples, names)
	return o
}

// Decide returns the state Evaluate would, without the intervals it displays: for callers that
// only act on the decision.
func (c *Latency) Decide() State {
	if c.sk[Baseline].Count() < c.cfg.MinSamples || c.sk[Candidate].Count() < c.cfg.MinSamples {
		return Inconclusive
	}
	return state(c.decisions())
}

// link maps a point the baseline's quantile might be at to the candidate's limit there: r·x
// for a ratio, x + m for a difference.
type link func(x float64) float64

// rejectsAbove reports whether the data reject, at level a, "the candidate's quantile is at
// most h(the baseline's quantile)". For each point x the baseline's quantile might be at, the
// evidence is w·G·B⁺ + (1 − w)·B⁻: G the candidate's evidence of a quantile above h(x), B⁺ the
// baseline's of one below x, B⁻ the baseline's of one above x. At the baseline's true quantile
// each term is an e-value (the two sides are independent), so if every x shows at least 1/a,
// the null is rejected with a false-rejection probability of at most a. Multiplying the two
// sides' evidence, rather than requiring each to be sure on its own, is what makes this a direct
// test of the comparison. The points are covered cell by cell of the baseline's grid, with the
// bounds each term has over a cell, splitting cells only where needed.
func (c *Latency) rejectsAbove(h link, a float64) bool {
	b, g := c.q[Baseline], c.q[Candidate]
	if !b.ready() || !g.ready() {
		return false
	}
	thr := math.Log(1 / a)
	pb, pg := b.pessimistic(), g.pessimistic()
	// Below the grid: the baseline's quantile above x is surely shown at x_0 if anywhere.
	if evidence(g.aboveAt(h(b.boundary(0)))+pb, b.logWealth(testAbove, 0)) < thr {
		return false
	}
	// Above it: only the baseline's evidence of a lower quantile can help.
	if evidence(pg+b.logWealth(testBelow, b.k-1), pb) < thr {
		return false
	}
	return cover(0, b.k-1, c.hint(), func(i, j int) bool {
		return evidence(g.aboveAt(h(b.boundary(j)))+b.logWealth(testBelow, i), b.logWealth(testAbove, j)) >= thr
	})
}

// rejectsBelow reports whether the data reject, at level a, "the candidate's quantile is at
// least h(the baseline's quantile)": the mirror of rejectsAbove.
func (c *Latency) rejectsBelow(h link, a float64) bool {
	b, g := c.q[Baseline], c.q[Candidate]
	if !b.ready() || !g.ready() {
		return false
	}
	thr := math.Log(1 / a)
	pb := b.pessimistic()
	if evidence(g.belowAt(h(0))+b.logWealth(testAbove, 0), pb) < thr {
		return false
	}
	if evidence(g.belowAt(h(b.boundary(b.k-1)))+pb, b.logWealth(testBelow, b.k-1)) < thr {
		return false
	}
	return cover(0, b.k-1, c.hint(), func(i, j int) bool {
		return evidence(g.belowAt(h(b.boundary(i)))+b.logWealth(testAbove, j), b.logWealth(testBelow, i)) >= thr
	})
}

// hint is the baseline's grid cell holding its observed percentile: where a test is weakest,
// so asked about first.
func (c *Latency) hint() int {
	b := c.q[Baseline]
	v := c.sk[Baseline].Quantile(c.p)
	if !(v > 0) {
		return 0
	}
	return min(max(b.lastAtOrBelow(v), 0), b.k-2)
}

// cover reports whether ok holds on every cell [x_i, x_i+1] of [x_lo, x_hi], asking first
// about the cell at hint (the likeliest to fail: most calls end there), then about whole ranges
// (ok on a range implies ok on its cells), splitting those it cannot show.
func cover(lo, hi, hint int, ok func(i, j int) bool) bool {
	if hint >= lo && hint < hi && !ok(hint, hint+1) {
		return false
	}
	stack := [][2]int{{lo, hi}}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if ok(r[0], r[1]) {
			continue
		}
		if r[1]-r[0] <= 1 {
			return false
		}
		m := (r[0] + r[1]) / 2
		stack = append(stack, [2]int{m, r[1]}, [2]int{r[0], m})
	}
	return true
}

// jointWeight is the weight of the two sides' joint evidence in the e-value at a point; the
// rest goes to the baseline's own evidence that its quantile is on the other side of the point,
// which is overwhelming far from it and needs little weight.
const jointWeight = 0.9

var logJoint, logOwn = math.Log(jointWeight), math.Log(1 - jointWeight)

// evidence is the log of the e-value at a point: jointWeight·e^joint + (1 − jointWeight)·e^own.
func evidence(joint, own float64) float64 { return logAdd(logJoint+joint, logOwn+own) }

// logAdd is log(e^a + e^b).
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// lowerEnd is the largest v in [lo, hi] at which the data reject "the effect is at most v"
// (rejection holds below some point and fails above it): the lower end of the displayed
// interval. none when it holds nowhere, hi when it holds everywhere.
func lowerEnd(rejects func(v float64) bool, lo, hi, none float64, geometric bool) float64 {
	switch {
	case !rejects(lo):
		return none
	case rejects(hi):
		return hi
	}
	lo, _ = edge(rejects, lo, hi, geometric)
	return lo
}

// upperEnd is the smallest v at which the data reject "the effect is at least v": the upper end.
func upperEnd(rejects func(v float64) bool, lo, hi, none float64, geometric bool) float64 {
	switch {
	case !rejects(hi):
		return none
	case rejects(lo):
		return lo
	}
	_, hi = edge(func(v float64) bool { return !rejects(v) }, lo, hi, geometric)
	return hi
}

// edge bisects [lo, hi], where holds(lo) and not holds(hi), to the two nearest points either
// side of where holds stops.
func edge(holds func(v float64) bool, lo, hi float64, geometric bool) (float64, float64) {
	for range 60 {
		m := mid(lo, hi, geometric)
		if holds(m) {
			lo = m
		} else {
			hi = m
		}
		if nearEnough(lo, hi, geometric) {
			break
		}
	}
	return lo, hi
}

func mid(lo, hi float64, geometric bool) float64 {
	if geometric {
		return math.Sqrt(lo * hi)
	}
	return lo + (hi-lo)/2
}

func nearEnough(lo, hi float64, relative bool) bool {
	if relative {
		return hi/lo < 1+1e-3
	}
	return hi-lo < 1e-3*math.Max(math.Abs(lo), math.Abs(hi)) || hi-lo < 1e-9
}

// decisions runs the exact tests at every limit.
func (c *Latency) decisions() []limitCheck {
	lv := newLevels(c.cfg, c.t)
	var out []limitCheck
	add := func(which string, limit, inverse float64, mk func(float64) link) {
		l := allowed(c.t.Direction, which, limit, inverse)
		l.inHi, l.inLo = true, true
		if !math.IsInf(l.hi, 1) {
			l.overHi, l.inHi = c.rejectsAbove(mk(l.hi), lv.fail), c.rejectsBelow(mk(l.hi), lv.pass)
		}
		if !math.IsInf(l.lo, -1) {
			l.underLo, l.inLo = c.rejectsBelow(mk(l.lo), lv.fail), c.rejectsAbove(mk(l.lo), lv.pass)
		}
		out = append(out, l)
	}
	if r := c.t.MaxRatio; r != nil {
		add("ratio", *r, 1 / *r, ratioLink)
	}
	if m := c.t.MaxIncrease; m != nil {
		add("diff", *m, -*m, plusLink)
	}
	if m := c.t.Max; m != nil {
		g := c.q[Candidate]
		l := limitCheck{which: "guard", lo: math.Inf(-1), hi: *m, inLo: true, inHi: true}
		if c.t.Direction == Decrease {
			l.lo, l.hi = *m, math.Inf(1)
			l.underLo, l.inLo = g.belowAt(*m) >= math.Log(1/lv.fail), g.aboveAt(*m) >= math.Log(1/lv.pass)
		} else {
			l.overHi, l.inHi = g.aboveAt(*m) >= math.Log(1/lv.fail), g.belowAt(*m) >= math.Log(1/lv.pass)
		}
		out = append(out, l)
	}
	return out
}

func ratioLink(r float64) link { return func(x float64) float64 { return r * x } }
func plusLink(m float64) link  { return func(x float64) float64 { return x + m } }

// percentileName writes 95 as p95 and 99.9 as p99.9.
func percentileName(pct float64) string {
	return "p" + strconv.FormatFloat(pct, 'f', -1, 64)
}
