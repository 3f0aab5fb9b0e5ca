package traces

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/greenlight/greenlight/analysis/source"
)

// shapeAlpha is how unlikely a side's absence must be under equal rates before Shape calls an
// operation or its errors new: with as many traces on both sides, at least 7 candidate traces
// must show it while no baseline trace does. It keeps a rare operation that the baseline's
// window happened to miss from reading as a new downstream call.
const shapeAlpha = 0.01

// maxExamples is how many example trace ids a finding carries.
const maxExamples = 3

// ShapeReport compares how requests look in the candidate and in the baseline over a window.
type ShapeReport struct {
	Baseline, Candidate ShapeStats
	// NewOperations are operations the candidate's traces have and the baseline's do not: in
	// no baseline trace at all (Root empty), or not under one root operation (Root set).
	NewOperations []Finding
	// Amplified are operations whose spans per request of one root operation grew by
	// ShapeFactor or more, with ShapeMinTraces traces of that root on each side: an N+1 pattern.
	Amplified []Finding
	// NewErrors are operations with error spans in the candidate and none in the baseline.
	NewErrors []Finding
	// Insufficient says why findings were not looked for (too few traces, unknown environment);
	// empty when the comparison ran. No findings with Insufficient set is not a pass.
	Insufficient string
}

// ShapeStats summarise one environment's traces in the window. A trace is every span sharing a
// trace id; its root is its earliest span whose parent is not among them (a probe's client
// span is never exported, so the server span it called is the root).
type ShapeStats struct {
	Environment string
	Traces      int                  // traces seen
	Spans       int                  // spans in them
	PerTrace    map[string]float64   // operation → spans per trace, over all traces
	Errors      map[string]int       // operation → error spans
	Roots       map[string]RootStats // root operation → its traces
}

// RootStats are the traces of one root operation (one kind of request).
type RootStats struct {
	Traces   int
	PerTrace map[string]float64 // operation → spans per trace of this root
}

// Finding is one difference of shape. Baseline and Candidate are span counts for new
// operations, spans per request of the root for amplified ones, and error span counts for new
// errors.
type Finding struct {
	Operation           string
	Root                string // the root operation the finding is about, when it is about one
	Baseline, Candidate float64
	ExampleTraceIDs     []string // up to 3 candidate traces that show it
	Reason              string
}

// Shape compares the trace shape of the candidate with the baseline's over the window (spans
// whose start is in [w.Start, w.End); a zero bound is open). Environments are names, as in
// source.Env.
func (v *View) Shape(baseline, candidate string, w source.Window) ShapeReport {
	var u unifier
	b, bok := v.shapeData(baseline, w, &u)
	c, cok := v.shapeData(candidate, w, &u)
	ns := u.names
	rep := ShapeReport{Baseline: b.stats(ns), Candidate: c.stats(ns)}
	switch need := v.cfg.ShapeMinTraces; {
	case !bok || !cok:
		var unknown []string
		for _, e := range []struct {
			name string
			ok   bool
		}{{baseline, bok}, {candidate, cok}} {
			if !e.ok {
				unknown = append(unknown, strconv.Quote(e.name))
			}
		}
		rep.Insufficient = fmt.Sprintf("no %s value maps to environment %s (known: %s)",
			v.cfg.Attribute, strings.Join(unknown, ", "), strings.Join(v.known, ", "))
	case b.traces < need || c.traces < need:
		rep.Insufficient = fmt.Sprintf("too few traces to compare shapes: %s %d, %s %d (need %d each)",
			candidate, c.traces, baseline, b.traces, need)
	default:
		f := finder{b: &b, c: &c, names: ns, factor: v.cfg.ShapeFactor, minTraces: need}
		rep.NewOperations = f.newOperations()
		rep.Amplified = f.amplified()
		rep.NewErrors = f.newErrors()
	}
	return rep
}

// example is a trace and how many spans of an operation it has.
type example struct {
	trace [16]byte
	n     int
}

// examples keeps the traces with the most spans of an operation, earliest trace id first on ties.
type examples struct {
	top [maxExamples]example
	len int
}

func (e *examples) add(trace [16]byte, n int) {
	i := e.len
	if i == maxExamples {
		if n <= e.top[i-1].n {
			return
		}
		i--
	} else {
		e.len++
	}
	for i > 0 && e.top[i-1].n < n {
		e.top[i] = e.top[i-1]
		i--
	}
	e.top[i] = example{trace, n}
}

func (e *examples) ids() []string {
	ids := make([]string, e.len)
	for i := range e.len {
		ids[i] = hex.EncodeToString(e.top[i].trace[:])
	}
	return ids
}

// opAgg is one operation over all traces of a side.
type opAgg struct {
	spans, traces      int
	errors, errTraces  int
	withOp, withErrors examples
}

// pairAgg is one operation within the traces of one root operation.
type pairAgg struct {
	spans, traces int
	withOp        examples
}

type rootAgg struct {
	traces int
	ops    map[uint32]*pairAgg
}

// shapeData is one side's traces in the window, aggregated by operation and root operation.
type shapeData struct {
	env           string
	traces, spans int
	ops           map[uint32]*opAgg
	roots         map[uint32]*rootAgg
}

// shapeData aggregates an environment's traces, its names given ids by u; ok is false for an
// unknown environment.
func (v *View) shapeData(env string, w source.Window, u *unifier) (shapeData, bool) {
	d := shapeData{env: env, ops: map[uint32]*opAgg{}, roots: map[uint32]*rootAgg{}}
	keys, ok := v.byEnv[env]
	if !ok {
		return d, false
	}
	from, to := startNanos(w), endNanos(w)
	var spans []span
	for _, ks := range keys {
		spans = u.collect(spans, ks, func(s *span) bool { return s.start >= from && s.start < to })
	}
	// Sort positions rather than the 64-byte records: a quarter of the bytes to move.
	order := make([]int32, len(spans))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &spans[i], &spans[j]
		if c := bytes.Compare(a.trace[:], b.trace[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})

	counts := map[uint32]int{}
	errs := map[uint32]int{}
	ids := map[[8]byte]struct{}{}
	var g []span // one trace's spans by start, reused
	for len(order) > 0 {
		first := &spans[order[0]]
		g = append(g[:0], *first)
		n := 1
		for ; n < len(order) && spans[order[n]].trace == first.trace; n++ {
			g = append(g, spans[order[n]])
		}
		order = order[n:]

		clear(counts)
		clear(errs)
		for i := range g {
			counts[g[i].op]++
			if g[i].err {
				errs[g[i].op]++
			}
		}
		root := localRoot(g, ids)
		ra := d.roots[root]
		if ra == nil {
			ra = &rootAgg{ops: map[uint32]*pairAgg{}}
			d.roots[root] = ra
		}
		d.traces++
		d.spans += len(g)
		ra.traces++
		trace := g[0].trace
		for op, k := range counts {
			oa := d.ops[op]
			if oa == nil {
				oa = &opAgg{}
				d.ops[op] = oa
			}
			oa.spans += k
			oa.traces++
			oa.withOp.add(trace, k)
			pa := ra.ops[op]
			if pa == nil {
				pa = &pairAgg{}
				ra.ops[op] = pa
			}
			pa.spans += k
			pa.traces++
			pa.withOp.add(trace, k)
		}
		for op, k := range errs {
			oa := d.ops[op]
			oa.errors += k
			oa.errTraces++
			oa.withErrors.add(trace, k)
		}
	}
	return d, true
}

// unifier gives the names of several keys one id space: each key has its own table, and the
// two sides of a comparison (or two keys of one environment) must agree on what an id means.
type unifier struct {
	ids   map[string]uint32
	names []string
}

// id returns the unified id of a name.
func (u *unifier) id(name string) uint32 {
	if id, ok := u.ids[name]; ok {
		return id
	}
	if u.ids == nil {
		u.ids = map[string]uint32{}
	}
	id := uint32(len(u.names))
	u.names = append(u.names, name)
	u.ids[name] = id
	return id
}

// collect appends the spans of ks that keep returns true for to dst, their names in unified ids.
func (u *unifier) collect(dst []span, ks *keyStore, keep func(*span) bool) []span {
	got := ks.ring.collect(keep)
	ns := ks.names.snapshot() // every id in got is in it: names are interned before spans are stored
	local := make([]uint32, len(ns))
	seen := make([]bool, len(ns))
	to := func(id uint32) uint32 {
		if !seen[id] {
			local[id], seen[id] = u.id(ns[id]), true
		}
		return local[id]
	}
	for i := range got {
		got[i].op, got[i].svc = to(got[i].op), to(got[i].svc)
	}
	if dst == nil {
		return got
	}
	return append(dst, got...)
}

// localRoot returns the operation of a trace's root: its earliest span (g is sorted by start)
// whose parent is not in the trace. ids is scratch space.
func localRoot(g []span, ids map[[8]byte]struct{}) uint32 {
	var zero [8]byte
	in := func(p [8]byte) bool {
		for i := range g {
			if g[i].id == p {
				return true
			}
		}
		return false
	}
	if len(g) > 16 {
		clear(ids)
		for i := range g {
			ids[g[i].id] = struct{}{}
		}
		in = func(p [8]byte) bool { _, ok := ids[p]; return ok }
	}
	for i := range g {
		if g[i].parent == zero || !in(g[i].parent) {
			return g[i].op
		}
	}
	return g[0].op // every parent present: a cycle only a broken sender makes
}

func (d *shapeData) stats(names []string) ShapeStats {
	s := ShapeStats{Environment: d.env, Traces: d.traces, Spans: d.spans,
		PerTrace: make(map[string]float64, len(d.ops)), Errors: map[string]int{}, Roots: make(map[string]RootStats, len(d.roots))}
	for op, oa := range d.ops {
		s.PerTrace[names[op]] = float64(oa.spans) / float64(d.traces)
		if oa.errors > 0 {
			s.Errors[names[op]] = oa.errors
		}
	}
	for root, ra := range d.roots {
		rs := RootStats{Traces: ra.traces, PerTrace: make(map[string]float64, len(ra.ops))}
		for op, pa := range ra.ops {
			rs.PerTrace[names[op]] = float64(pa.spans) / float64(ra.traces)
		}
		s.Roots[names[root]] = rs
	}
	return s
}

// finder derives the findings from both sides' aggregates.
type finder struct {
	b, c      *shapeData
	names     []string
	factor    float64
	minTraces int
}

// chance is the probability that all k traces showing something fall on the candidate's side
// when a trace of either side is as likely to show it: the exact conditional binomial test of
// equal rates with none seen in nb baseline traces.
func chance(k, nb, nc int) float64 {
	return math.Pow(float64(nc)/float64(nb+nc), float64(k))
}

func (f *finder) newOperations() []Finding {
	var out []Finding
	for op, oa := range f.c.ops {
		if _, seen := f.b.ops[op]; seen || chance(oa.traces, f.b.traces, f.c.traces) > shapeAlpha {
			continue
		}
		ids := oa.withOp.ids()
		out = append(out, Finding{
			Operation: f.names[op], Candidate: float64(oa.spans), ExampleTraceIDs: ids,
			Reason: fmt.Sprintf("operation %q appears only in %s (%d spans in %d traces, none in %s's %d; %s)",
				f.names[op], f.c.env, oa.spans, oa.traces, f.b.env, f.b.traces, eg(ids)),
		})
	}
	// Operations the baseline has, but not under this root: the endpoint makes a new call.
	for root, cr := range f.c.roots {
		br := f.b.roots[root]
		if br == nil || br.traces < f.minTraces || cr.traces < f.minTraces {
			continue
		}
		for op, pa := range cr.ops {
			if _, seen := f.b.ops[op]; !seen {
				continue // reported above, for all roots
			}
			if _, seen := br.ops[op]; seen || chance(pa.traces, br.traces, cr.traces) > shapeAlpha {
				continue
			}
			ids := pa.withOp.ids()
			out = append(out, Finding{
				Operation: f.names[op], Root: f.names[root], Candidate: float64(pa.spans), ExampleTraceIDs: ids,
				Reason: fmt.Sprintf("operation %q appears in %s's %q requests only (%d spans in %d of %d traces, none in %s's %d; %s)",
					f.names[op], f.c.env, f.names[root], pa.spans, pa.traces, cr.traces, f.b.env, br.traces, eg(ids)),
			})
		}
	}
	sortFindings(out, func(x Finding) float64 { return x.Candidate })
	return out
}

func (f *finder) amplified() []Finding {
	var out []Finding
	for root, cr := range f.c.roots {
		br := f.b.roots[root]
		if br == nil || br.traces < f.minTraces || cr.traces < f.minTraces {
			continue
		}
		for op, pa := range cr.ops {
			bp := br.ops[op]
			if bp == nil {
				continue
			}
			bm := float64(bp.spans) / float64(br.traces)
			cm := float64(pa.spans) / float64(cr.traces)
			if cm < f.factor*bm {
				continue
			}
			ids := pa.withOp.ids()
			out = append(out, Finding{
				Operation: f.names[op], Root: f.names[root], Baseline: bm, Candidate: cm, ExampleTraceIDs: ids,
				Reason: fmt.Sprintf("%q per %q request: %s %.1f vs %s %.1f (×%s; %d vs %d traces; %s)",
					f.names[op], f.names[root], f.c.env, cm, f.b.env, bm, factorText(cm/bm), cr.traces, br.traces, eg(ids)),
			})
		}
	}
	sortFindings(out, func(x Finding) float64 { return x.Candidate / x.Baseline })
	return out
}

func (f *finder) newErrors() []Finding {
	var out []Finding
	for op, oa := range f.c.ops {
		if oa.errors == 0 {
			continue
		}
		if ba := f.b.ops[op]; ba != nil && ba.errors > 0 {
			continue
		}
		if chance(oa.errTraces, f.b.traces, f.c.traces) > shapeAlpha {
			continue
		}
		ids := oa.withErrors.ids()
		out = append(out, Finding{
			Operation: f.names[op], Candidate: float64(oa.errors), ExampleTraceIDs: ids,
			Reason: fmt.Sprintf("operation %q has error spans only in %s (%d in %d traces, none in %s's %d; %s)",
				f.names[op], f.c.env, oa.errors, oa.errTraces, f.b.env, f.b.traces, eg(ids)),
		})
	}
	sortFindings(out, func(x Finding) float64 { return x.Candidate })
	return out
}

// sortFindings orders findings by size, largest first, then by root and operation.
func sortFindings(fs []Finding, size func(Finding) float64) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(size(b), size(a)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Root, b.Root); c != 0 {
			return c
		}
		return cmp.Compare(a.Operation, b.Operation)
	})
}

// eg writes example trace ids for a reason.
func eg(ids []string) string {
	switch len(ids) {
	case 0:
		return "no example"
	case 1:
		return "e.g. trace " + ids[0]
	}
	return "e.g. traces " + strings.Join(ids, ", ")
}

// factorText writes a ratio with at most one decimal: 12, 2.5.
func factorText(x float64) string {
	return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64)
}
