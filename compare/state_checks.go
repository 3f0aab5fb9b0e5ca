package compare

import (
	"cmp"
	"math"
	"slices"
)

// The states of each check and of the parts they share (see state.go for the format).

// SaveState returns the sketch's values or bins.
func (s *Sketch) SaveState() ([]byte, error) {
	var w stateWriter
	s.writeState(&w)
	return sealState(kindSketch, sketchFingerprint(), w.b)
}

// RestoreState replaces the sketch's contents with a saved state's.
func (s *Sketch) RestoreState(data []byte) error {
	body, err := openState(data, kindSketch, sketchFingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	got := readSketch(r)
	if err := r.end(); err != nil {
		return err
	}
	*s = *got
	return nil
}

func sketchFingerprint() string {
	return "sketch relativeError=" + exact(DefaultRelativeError) + " statistics=" + statisticsHash()
}

func (s *Sketch) writeState(w *stateWriter) {
	if s.Exact() {
		w.boolean(false)
		w.floats(s.exact)
		return
	}
	w.boolean(true)
	w.varint(s.n)
	w.float(s.min)
	w.float(s.max)
	w.float(s.zeros)
	w.varint(int64(s.offset))
	w.floats(s.bins)
}

// The bin indexes a sketch can hold: those of the values from minIndexable to the largest
// float64.
var minBin, maxBin = NewSketch().index(minIndexable), NewSketch().index(math.MaxFloat64)

func readSketch(r *stateReader) *Sketch {
	s := NewSketch()
	if !r.boolean() {
		s.exact = r.floats(exactLimit, latencyValue, "sketch values")
		s.n = int64(len(s.exact))
		for _, v := range s.exact {
			s.min, s.max = math.Min(s.min, v), math.Max(s.max, v)
		}
		return s
	}
	s.n = r.count(1, math.MaxInt64, "sketch count")
	s.min, s.max, s.zeros = r.float(), r.float(), r.float()
	s.offset = int(r.count(int64(minBin), int64(maxBin), "sketch offset"))
	s.bins = r.floats(maxBin-s.offset+1, countValue, "sketch bins")
	switch {
	case !r.ok():
	case !latencyValue(s.min) || !latencyValue(s.max) || s.min > s.max:
		r.fail("sketch range [%v, %v]", s.min, s.max)
	case !countValue(s.zeros):
		r.fail("sketch zeros %v", s.zeros)
	case s.bins == nil:
		s.bins = make([]float64, 0, 64) // binned, with every value at zero so far
	}
	return s
}

// SaveState returns the check's state: both sides' values (sketches and quantile grids with
// their evidence) and the block clock.
func (c *Latency) SaveState() ([]byte, error) {
	var w stateWriter
	for s := range c.q {
		c.sk[s].writeState(&w)
		c.q[s].writeState(&w)
	}
	w.varint(c.clock.index)
	return sealState(kindLatency, c.fingerprint(), w.b)
}

// RestoreState replaces the check's state with one SaveState returned from a check of the same
// configuration (ErrStateMismatch otherwise).
func (c *Latency) RestoreState(data []byte) error {
	body, err := openState(data, kindLatency, c.fingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	var sk [2]*Sketch
	var q [2]*quantileBounds
	for s := range q {
		sk[s] = readSketch(r)
		q[s] = c.q[s].readState(r)
		if r.ok() && sk[s].n != q[s].n {
			r.fail("%s: %d values in the sketch, %d in the grid", Side(s), sk[s].n, q[s].n)
		}
	}
	index := r.count(0, math.MaxInt64, "block")
	if err := r.end(); err != nil {
		return err
	}
	c.sk, c.q, c.clock.index = sk, q, index
	return nil
}

func (c *Latency) fingerprint() string {
	return fingerprint(kindLatency, c.cfg, &c.t, " percentile="+exact(c.pct))
}

func (q *quantileBounds) writeState(w *stateWriter) {
	w.varint(q.n)
	w.boolean(q.placed)
	if q.placed {
		w.float(q.center)
		// Each stake's wealth along the grid, as differences from the boundary below.
		S := len(stakes)
		for t := range q.lw {
			for i, v := range q.lw[t] {
				prev := int32(0)
				if i >= S {
					prev = q.lw[t][i-S]
				}
				w.varint(int64(v) - int64(prev))
			}
		}
	} else {
		w.uvarint(uint64(len(q.early)))
		for _, b := range q.early {
			w.floats(b)
		}
	}
	w.floats(q.open)
}

// readState reads a grid's state into a new quantileBounds of q's configuration.
func (q *quantileBounds) readState(r *stateReader) *quantileBounds {
	out := &quantileBounds{beta: q.beta, cap: q.cap, fac: q.fac}
	out.n = r.count(0, math.MaxInt64, "observations")
	if r.boolean() {
		center := r.float()
		if !(center >= math.Log(minIndexable) && center <= math.Log(math.MaxFloat64)) {
			r.fail("grid centre %v", center)
			return out
		}
		if out.n < gridAfter {
			r.fail("a grid placed after %d observations", out.n)
			return out
		}
		out.placeAt(center)
		S := len(stakes)
		for t := range out.lw {
			lw := out.lw[t]
			for i := range lw {
				prev := int64(0)
				if i >= S {
					prev = int64(lw[i-S])
				}
				v := prev + r.varint()
				if r.err == nil && (v < wealthFloor || v > wealthCeiling) {
					r.fail("wealth %d out of range", v)
				}
				if r.err != nil {
					return out
				}
				lw[i] = int32(v)
			}
		}
	} else {
		// Blocks are kept aside only until gridAfter observations have come.
		total := int64(0)
		for range r.length(gridAfter, "early blocks") {
			b := r.floats(gridAfter, latencyValue, "early block")
			if len(b) == 0 {
				r.fail("an empty early block")
			}
			total += int64(len(b))
			out.early = append(out.early, b)
		}
		if r.ok() && total >= gridAfter {
			r.fail("%d observations kept aside, fewer than %d expected", total, gridAfter)
		}
	}
	out.open = r.floats(maxBlockObservations-1, latencyValue, "open block")
	if !r.ok() {
		return out
	}
	kept := int64(len(out.open))
	for _, b := range out.early {
		kept += int64(len(b))
	}
	if !out.placed && kept != out.n || out.placed && kept > out.n {
		r.fail("%d observations, %d held", out.n, kept)
	}
	return out
}

// SaveState returns the check's state: the counts, the events waiting for their pair, the
// blocks of pairs and the kept tests' wealth.
func (c *ErrorRate) SaveState() ([]byte, error) {
	var w stateWriter
	for s := range c.total {
		w.varint(c.errors[s])
		w.varint(c.total[s])
	}
	w.boolean(c.counts)
	for _, p := range c.pending {
		w.uvarint(uint64(len(p)))
		for _, f := range p {
			w.boolean(f)
		}
	}
	w.varint(c.clock.index)
	writePairCounts(&w, c.open)
	closed := make([]pairCounts, 0, len(c.closed))
	for k := range c.closed {
		closed = append(closed, k)
	}
	slices.SortFunc(closed, func(a, b pairCounts) int { return slices.Compare(a[:], b[:]) })
	w.uvarint(uint64(len(closed)))
	for _, k := range closed {
		writePairCounts(&w, k)
		w.varint(c.closed[k])
	}
	for _, t := range sortedTests(c.tests) {
		pw := c.tests[t]
		for _, v := range pw.lw {
			w.float(v)
		}
		w.float(pw.blocks)
	}
	return sealState(kindErrorRate, c.fingerprint(), w.b)
}

// RestoreState replaces the check's state with one SaveState returned from a check of the same
// configuration (ErrStateMismatch otherwise).
func (c *ErrorRate) RestoreState(data []byte) error {
	body, err := openState(data, kindErrorRate, c.fingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	var errs, total [2]int64
	for s := range total {
		errs[s] = r.count(0, math.MaxInt64, "errors")
		total[s] = r.count(errs[s], math.MaxInt64, "total")
	}
	counts := r.boolean()
	var pending [2][]bool
	for s := range pending {
		n := r.length(maxPending, "events waiting")
		for range n {
			pending[s] = append(pending[s], r.boolean())
		}
	}
	index := r.count(0, math.MaxInt64, "block")
	open := readPairCounts(r)
	if r.ok() && open.total() >= maxBlockObservations {
		r.fail("an open block of %d pairs", open.total())
	}
	closed := map[pairCounts]int64{}
	for range r.length(len(r.b)/5, "closed blocks") {
		k := readPairCounts(r)
		n := r.count(1, math.MaxInt64, "blocks")
		if _, dup := closed[k]; dup && r.ok() {
			r.fail("blocks %v twice", k)
		}
		closed[k] = n
	}
	tests := map[pairTest]*pairWealth{}
	for _, t := range sortedTests(c.tests) {
		w := newPairWealth(t)
		w.grow = c.tests[t].grow
		for s := range w.lw {
			w.lw[s] = r.float()
			if r.ok() && math.IsNaN(w.lw[s]) {
				r.fail("wealth NaN")
			}
		}
		w.blocks = r.float()
		if r.ok() && !(w.blocks >= 0 && w.blocks == math.Trunc(w.blocks) && !math.IsInf(w.blocks, 0)) {
			r.fail("%v blocks", w.blocks)
		}
		tests[t] = w
	}
	if err := r.end(); err != nil {
		return err
	}
	c.errors, c.total, c.counts, c.pending = errs, total, counts, pending
	c.clock.index, c.open, c.closed, c.tests = index, open, closed, tests
	return nil
}

func (c *ErrorRate) fingerprint() string { return fingerprint(kindErrorRate, c.cfg, &c.t, "") }

func writePairCounts(w *stateWriter, k pairCounts) {
	for _, n := range k {
		w.varint(n)
	}
}

func readPairCounts(r *stateReader) pairCounts {
	var k pairCounts
	for i := range k {
		// A block holds fewer than maxBlockObservations pairs.
		k[i] = r.count(0, maxBlockObservations, "pairs")
	}
	return k
}

// sortedTests are a check's kept tests in a fixed order.
func sortedTests(m map[pairTest]*pairWealth) []pairTest {
	out := make([]pairTest, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b pairTest) int {
		if c := cmp.Compare(a.r, b.r); c != 0 {
			return c
		}
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.up), b2i(b.up))
	})
	return out
}

// SaveState returns the check's state: the pairs' counts, the values waiting for their pair and
// the sketches of the medians shown.
func (c *Values) SaveState() ([]byte, error) {
	var w stateWriter
	c.pairs.writeState(&w)
	w.varint(c.over)
	w.varint(c.n)
	for _, s := range c.med {
		s.writeState(&w)
	}
	c.cs.writeState(&w)
	return sealState(kindValues, c.fingerprint(), w.b)
}

// RestoreState replaces the check's state with one SaveState returned from a check of the same
// configuration (ErrStateMismatch otherwise).
func (c *Values) RestoreState(data []byte) error {
	body, err := openState(data, kindValues, c.fingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	pairs := readPairer(r)
	over := r.count(0, math.MaxInt64, "intervals over")
	n := r.count(over, math.MaxInt64, "intervals")
	var med [2]*Sketch
	for s := range med {
		med[s] = readSketch(r)
	}
	cs := readRunningCS(r)
	if err := r.end(); err != nil {
		return err
	}
	c.pairs, c.over, c.n, c.med, c.cs = pairs, over, n, med, cs
	return nil
}

func (c *Values) fingerprint() string { return fingerprint(kindValues, c.cfg, &c.t, "") }

func (p *pairer) writeState(w *stateWriter) {
	for _, q := range p.pending {
		w.floats(q)
	}
}

func readPairer(r *stateReader) pairer {
	var p pairer
	for s := range p.pending {
		p.pending[s] = r.floats(maxPending, finiteValue, "values waiting")
	}
	return p
}

// SaveState returns the check's state: the pairs' counts, the values waiting for their pair and
// the sketches of the medians shown.
func (c *Shift) SaveState() ([]byte, error) {
	var w stateWriter
	c.pairs.writeState(&w)
	w.varint(c.wins)
	w.varint(c.n)
	w.varint(c.ties)
	for _, s := range c.medians {
		s.writeState(&w)
	}
	c.cs.writeState(&w)
	return sealState(kindShift, c.fingerprint(), w.b)
}

// RestoreState replaces the check's state with one SaveState returned from a check of the same
// configuration (ErrStateMismatch otherwise).
func (c *Shift) RestoreState(data []byte) error {
	body, err := openState(data, kindShift, c.fingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	pairs := readPairer(r)
	wins := r.count(0, math.MaxInt64, "wins")
	n := r.count(wins, math.MaxInt64, "pairs")
	ties := r.count(0, math.MaxInt64, "ties")
	var med [2]*Sketch
	for s := range med {
		med[s] = readSketch(r)
	}
	cs := readRunningCS(r)
	if err := r.end(); err != nil {
		return err
	}
	c.pairs, c.wins, c.n, c.ties, c.medians, c.cs = pairs, wins, n, ties, med, cs
	return nil
}

func (c *Shift) fingerprint() string {
	return fingerprint(kindShift, c.cfg, nil, " maxProbability="+exact(c.maxP)+" direction="+string(c.dir))
}

// maxBuckets bounds a restored histogram: far more buckets than any Prometheus histogram has.
const maxBuckets = 1 << 14

// SaveState returns the check's state: both sides' buckets.
func (c *HistogramLatency) SaveState() ([]byte, error) {
	var w stateWriter
	for _, h := range c.hist {
		w.floats(h.le)
		for _, v := range h.cum {
			w.float(v)
		}
	}
	return sealState(kindHistogram, c.fingerprint(), w.b)
}

// RestoreState replaces the check's state with one SaveState returned from a check of the same
// configuration (ErrStateMismatch otherwise).
func (c *HistogramLatency) RestoreState(data []byte) error {
	body, err := openState(data, kindHistogram, c.fingerprint())
	if err != nil {
		return err
	}
	r := &stateReader{b: body}
	var hist [2]buckets
	for s := range hist {
		le := r.floats(maxBuckets, func(v float64) bool { return v >= 0 }, "bucket bounds")
		cum := make([]float64, len(le))
		for i := range cum {
			cum[i] = r.float()
		}
		for i := range le {
			switch {
			case !r.ok():
			case i > 0 && le[i] <= le[i-1]:
				r.fail("bucket bounds out of order")
			case !countValue(cum[i]) || i > 0 && cum[i] < cum[i-1]:
				r.fail("bucket count %v", cum[i])
			}
		}
		if len(le) > 0 {
			hist[s] = buckets{le: le, cum: cum}
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	c.hist = hist
	return nil
}

func (c *HistogramLatency) fingerprint() string {
	return fingerprint(kindHistogram, c.cfg, &c.t, " percentile="+exact(c.pct))
}
