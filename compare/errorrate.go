package compare

import (
	"fmt"
	"math"
	"time"
)

// ErrorRate compares the candidate's error proportion with the baseline's. Thresholds:
// MaxIncrease in proportion units (0.005 = 0.5 percentage points) and/or MaxRatio; Max is an
// absolute ceiling on the candidate's rate.
//
// Events added one by one (Add) pair up in arrival order — monitors probe both environments at
// the same moments — and each limit is tested directly on the pairs: for "candidate − r ×
// baseline ≤ d" the statistic is x_c − r·x_b − d, one value per pair, and betting e-processes
// (see bets.go) reject the limit when the pairs' mean is surely above it. Failures both sides
// share (a dependency down for both) cancel in the pair; a baseline with zero errors needs no
// interval of its own. Evidence is capped per block of time (Config.Block), so a burst of errors
// in one environment cannot decide alone.
//
// Counts (AddCounts, SetCounts: cumulative counters read from a metrics source) are not paired:
// then each side's rate gets a confidence sequence of its own and the check compares the two
// intervals, which needs more data for the same decision.
type ErrorRate struct {
	cfg    Config
	t      Threshold
	errors [2]int64
	total  [2]int64

	counts  bool       // counts were set: judge by the two sides' intervals
	pending [2][]bool  // events waiting for their pair, by side
	clock   blockClock // blocks of evidence
	open    pairCounts // the open block's pairs
	closed  map[pairCounts]int64
	tests   map[pairTest]*pairWealth // the exact tests at the limits, kept up to date
}

// pairCounts counts pairs by outcome: index 2·x_b + x_c (x = 1 for a failure).
type pairCounts [4]int64

func (p pairCounts) total() int64 { return p[0] + p[1] + p[2] + p[3] }

// pairTest is one sequential test on the pairs: with Z = x_c − r·x_b − d, up rejects
// "E[Z] ≤ 0" (the candidate is surely above the limit), !up rejects "E[Z] ≥ 0" (surely below).
type pairTest struct {
	r, d float64
	up   bool
}

// pairWealth is a test's capped log-wealth per stake over the closed blocks.
type pairWealth struct {
	lw     []float64
	fac    [4][]float64 // log-factor per pair outcome and stake
	blocks float64      // closed blocks with pairs
	grow   bool         // caps grow with the evidence so far (kept tests); else the floor
}

// NewErrorRate returns an error-rate check.
func NewErrorRate(cfg Config, t Threshold) (*ErrorRate, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if t, err = t.validate(); err != nil {
		return nil, err
	}
	if t.Max != nil && (*t.Max < 0 || *t.Max > 1) {
		return nil, fmt.Errorf("%w: an error-rate max is a proportion in [0, 1], got %v", ErrConfig, *t.Max)
	}
	c := &ErrorRate{cfg: cfg, t: t, clock: blockClock{length: cfg.Block, rate: errorCap}, closed: map[pairCounts]int64{},
		tests: map[pairTest]*pairWealth{}}
	for _, l := range c.limits() {
		for _, v := range []float64{l.lo, l.hi} {
			if !math.IsInf(v, 0) {
				for _, up := range []bool{true, false} {
					t := l.test(v)
					t.up = up
					w := newPairWealth(t)
					w.grow = true
					c.tests[t] = w
				}
			}
		}
	}
	return c, nil
}

// Add records one event: failed or not. Events pair up in arrival order, a baseline event with
// the next candidate event and the other way round; an event whose pair never comes is left
// out (at most maxPending wait per side).
func (c *ErrorRate) Add(side Side, failed bool) {
	c.total[side]++
	if failed {
		c.errors[side]++
	}
	other := 1 - side
	if q := c.pending[other]; len(q) > 0 {
		xo := q[0]
		c.pending[other] = q[1:]
		xb, xc := xo, failed
		if side == Baseline {
			xb, xc = failed, xo
		}
		c.open[2*b2i(xb)+b2i(xc)]++
		if c.open.total() >= maxBlockObservations {
			c.closeBlock()
		}
		return
	}
	if len(c.pending[side]) >= maxPending {
		c.pending[side] = c.pending[side][1:]
	}
	c.pending[side] = append(c.pending[side], failed)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Advance tells the check how long the analysis has run: events added from now on belong to
// the block that contains elapsed. Without Config.Block it does nothing.
func (c *ErrorRate) Advance(elapsed time.Duration) {
	if c.clock.advance(elapsed) {
		c.closeBlock()
	}
}

func (c *ErrorRate) closeBlock() {
	if c.open.total() == 0 {
		return
	}
	for _, w := range c.tests {
		w.fold(c.open, c.clock.cap())
	}
	c.closed[c.open]++
	c.open = pairCounts{}
}

// AddCounts adds a batch of events. Counts are not paired: the check then compares the two
// sides' intervals.
func (c *ErrorRate) AddCounts(side Side, errors, total int64) error {
	if err := checkCounts(errors, total); err != nil {
		return err
	}
	c.counts = true
	c.errors[side] += errors
	c.total[side] += total
	return nil
}

// SetCounts replaces a side's counts (cumulative counters read from a metrics source).
func (c *ErrorRate) SetCounts(side Side, errors, total int64) error {
	if err := checkCounts(errors, total); err != nil {
		return err
	}
	c.counts = true
	c.errors[side], c.total[side] = errors, total
	return nil
}

func checkCounts(errors, total int64) error {
	if errors < 0 || total < 0 || errors > total {
		return fmt.Errorf("%w: counts must satisfy 0 ≤ errors ≤ total, got %d errors of %d", ErrBadValue, errors, total)
	}
	return nil
}

// Counts returns a side's errors and total.
func (c *ErrorRate) Counts(side Side) (errors, total int64) { return c.errors[side], c.total[side] }

// Evaluate judges the check now.
func (c *ErrorRate) Evaluate() Outcome {
	o := Outcome{Check: c.cfg.Name, Kind: "error-rate", Metric: c.metric(), Alpha: c.cfg.Alpha}
	o.Baseline = c.estimate(Baseline)
	o.Candidate = c.estimate(Candidate)
	names := [2]string{c.cfg.BaselineName, c.cfg.CandidateName}
	if c.counts || o.Baseline.N < c.cfg.MinSamples || o.Candidate.N < c.cfg.MinSamples {
		judge(&o, c.t, rateUnit, c.cfg.MinSamples, names)
	} else {
		c.judgePairs(&o, names)
	}
	o.Reason += fmt.Sprintf(" — %d/%d vs %d/%d errors", c.errors[Candidate], c.total[Candidate], c.errors[Baseline], c.total[Baseline])
	return o
}

// Decide returns the state Evaluate would, without the intervals it displays.
func (c *ErrorRate) Decide() State {
	if c.counts || c.total[Baseline] < c.cfg.MinSamples || c.total[Candidate] < c.cfg.MinSamples {
		return c.Evaluate().State
	}
	return state(c.decisions())
}

func (c *ErrorRate) metric() string { return "error rate" }

// estimate is a side's rate with its confidence sequence at α/2: the two sides together keep
// the false-fail probability at α when counts are compared interval against interval.
func (c *ErrorRate) estimate(s Side) Estimate {
	n, e := c.total[s], c.errors[s]
	lo, hi := proportionCS(e, n, c.cfg.Alpha/2, rateMixture)
	v := math.NaN()
	if n > 0 {
		v = float64(e) / float64(n)
	}
	return Estimate{N: n, Value: v, Lower: lo, Upper: hi}
}

// judgePairs fills the outcome from the paired tests.
func (c *ErrorRate) judgePairs(o *Outcome, names [2]string) {
	lv := newLevels(c.cfg, c.t)
	up := func(r, d, a float64) bool { return c.rejects(pairTest{r, d, true}, a) }
	down := func(r, d, a float64) bool { return c.rejects(pairTest{r, d, false}, a) }
	inf := math.Inf(1)
	o.Diff = Effect{Value: o.Candidate.Value - o.Baseline.Value,
		Lower: lowerEnd(func(d float64) bool { return up(1, d, lv.lower) }, -1, 1, -1, false),
		Upper: upperEnd(func(d float64) bool { return down(1, d, lv.upper) }, -1, 1, 1, false)}
	o.Ratio = Effect{Value: ratio(o.Candidate.Value, o.Baseline.Value),
		Lower: lowerEnd(func(r float64) bool { return up(r, 0, lv.lower) }, 1e-3, 1e3, 0, true),
		Upper: upperEnd(func(r float64) bool { return down(r, 0, lv.upper) }, 1e-3, 1e3, inf, true)}
	alignAll(o, c.decisions())
	judgeEffects(o, c.t, rateUnit, c.cfg.MinSamples, names)
}

// pairLimit is a limit's allowed region with the test of its edges: a ratio limit r is
// "x_c − r·x_b ≤ 0", a difference limit d is "x_c − x_b ≤ d", the guard m is "x_c ≤ m".
type pairLimit struct {
	limitCheck
	test func(v float64) pairTest
}

func (c *ErrorRate) limits() []pairLimit {
	var out []pairLimit
	if r := c.t.MaxRatio; r != nil {
		out = append(out, pairLimit{allowed(c.t.Direction, "ratio", *r, 1 / *r), func(v float64) pairTest { return pairTest{r: v} }})
	}
	if m := c.t.MaxIncrease; m != nil {
		out = append(out, pairLimit{allowed(c.t.Direction, "diff", *m, -*m), func(v float64) pairTest { return pairTest{r: 1, d: v} }})
	}
	if m := c.t.Max; m != nil {
		l := limitCheck{which: "guard", lo: math.Inf(-1), hi: *m}
		if c.t.Direction == Decrease {
			l.lo, l.hi = *m, math.Inf(1)
		}
		out = append(out, pairLimit{l, func(v float64) pairTest { return pairTest{d: v} }})
	}
	return out
}

// decisions runs the exact tests at every limit's edges (mirrored for a decrease).
func (c *ErrorRate) decisions() []limitCheck {
	lv := newLevels(c.cfg, c.t)
	var out []limitCheck
	for _, pl := range c.limits() {
		l := pl.limitCheck
		l.inHi, l.inLo = true, true
		if !math.IsInf(l.hi, 1) {
			t := pl.test(l.hi)
			t.up = true
			l.overHi = c.rejects(t, lv.fail)
			t.up = false
			l.inHi = c.rejects(t, lv.pass)
		}
		if !math.IsInf(l.lo, -1) {
			t := pl.test(l.lo)
			t.up = false
			l.underLo = c.rejects(t, lv.fail)
			t.up = true
			l.inLo = c.rejects(t, lv.pass)
		}
		out = append(out, l)
	}
	return out
}

// rejects reports whether test t rejects at level a, from the closed blocks and the open one.
// The tests at the limits are kept up to date block by block; others (the displayed interval's
// ends) are computed from the closed blocks, grouped by their counts.
func (c *ErrorRate) rejects(t pairTest, a float64) bool {
	w, kept := c.tests[t]
	if !kept {
		w = newPairWealth(t)
		for k, n := range c.closed {
			w.addBlocks(w.lw, k, c.clock.cap(), float64(n))
		}
	}
	lw := make([]float64, len(pairStakes))
	copy(lw, w.lw)
	w.addOpen(lw, c.open, c.clock.cap())
	return mixtureLog(lw) >= math.Log(1/a)
}

func newPairWealth(t pairTest) *pairWealth {
	w := &pairWealth{lw: make([]float64, len(pairStakes))}
	// Z for each outcome (x_b, x_c): index 2·x_b + x_c.
	z := [4]float64{-t.d, 1 - t.d, -t.r - t.d, 1 - t.r - t.d}
	sign := 1.0
	if !t.up {
		sign = -1
	}
	worst := 0.0 // the most one pair can count against the bet
	for _, v := range z {
		worst = math.Max(worst, -sign*v)
	}
	worst = math.Max(worst, 1e-6)
	for o, v := range z {
		for _, s := range pairStakes {
			w.fac[o] = append(w.fac[o], math.Log1p(s/worst*sign*v))
		}
	}
	return w
}

// gain is stake s's capped log-gain from a block with counts k.
func (w *pairWealth) gain(s int, k pairCounts, cap float64) float64 {
	f := 0.0
	for o, cnt := range k {
		if cnt > 0 {
			f += float64(cnt) * w.fac[o][s]
		}
	}
	return math.Min(cap, f)
}

// capFor is stake s's cap for the next block: the floor, or growCap times the evidence per
// block so far when that is more — evidence that has persisted may keep coming at its pace,
// a burst after calm blocks may not.
func (w *pairWealth) capFor(s int, floor float64) float64 {
	if !w.grow || w.blocks == 0 || math.IsInf(floor, 1) {
		return floor
	}
	return math.Max(floor, growCap*w.lw[s]/w.blocks)
}

// addBlocks adds n blocks with counts k, each capped at the floor, to lw (order-free: for the
// intervals displayed).
func (w *pairWealth) addBlocks(lw []float64, k pairCounts, floor, n float64) {
	for s := range lw {
		lw[s] += n * w.gain(s, k, floor)
	}
}

// addOpen adds the open block to lw.
func (w *pairWealth) addOpen(lw []float64, k pairCounts, floor float64) {
	for s := range lw {
		lw[s] += w.gain(s, k, w.capFor(s, floor))
	}
}

// fold closes a block into the kept wealth.
func (w *pairWealth) fold(k pairCounts, floor float64) {
	for s := range w.lw {
		w.lw[s] += w.gain(s, k, w.capFor(s, floor))
	}
	w.blocks++
}
