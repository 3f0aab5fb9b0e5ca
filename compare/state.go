package compare

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Saving and restoring a check's state.
//
// Every check (and a Sketch) can write its whole statistical state with SaveState and read it
// back with RestoreState into a check built with the same configuration, so that an analysis
// can stop and resume: fed the same observations afterwards, the restored check judges exactly
// as the original would have. The sequential tests are supermartingales in the order the
// observations arrive; restoring their wealth and feeding the next observations is the same
// process observed later, so the guarantees carry over a pause (see docs/judge.md).
//
// A state says which configuration it belongs to: a fingerprint naming the check's kind, its
// name, percentile, limits, levels, block length, minimum samples and environment names, and a
// hash of the statistics it was computed with (stakes, grid, caps, sketch accuracy). Restoring
// into a check whose fingerprint differs is ErrStateMismatch — never a silent mix of two
// configurations' evidence. A state that is not one (truncated, corrupted, hostile) is
// ErrState; the decoder bounds every length it reads by what the check itself could hold and by
// the bytes that remain, and rejects the values the check would have refused (NaN, infinities,
// negative latencies, impossible counts). A failed restore leaves the check as it was.
//
// Format, version 2 (1 lacked the running intervals of shift and values checks): the magic "glcs", the version and the kind (one byte each), the
// fingerprint (a uvarint length and its text), then the body compressed with DEFLATE. In the
// body every count is a varint and every value a little-endian float64; a quantile grid's
// log-wealths, which change little from one boundary to the next, are written as differences.

// Errors of RestoreState.
var (
	// ErrState is returned for bytes that are not a valid state of the check's kind.
	ErrState = errors.New("invalid check state")
	// ErrStateMismatch is returned for a state saved by a check of another configuration.
	ErrStateMismatch = errors.New("check state of a different configuration")
)

const (
	stateMagic   = "glcs"
	stateVersion = 2
	// maxStateBytes bounds a state, compressed and not. The largest a check holds is a latency
	// check's two open blocks (2 × 16,384 values) and grids (2 × 12,560 wealths), under 1 MiB.
	maxStateBytes  = 8 << 20
	maxFingerprint = 16 << 10
)

// stateKind is the kind byte of a state.
type stateKind byte

const (
	kindLatency stateKind = iota + 1
	kindErrorRate
	kindValues
	kindShift
	kindHistogram
	kindSketch
)

// sealState writes a state: the header and fingerprint, then the body compressed.
func sealState(kind stateKind, fingerprint string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	buf.WriteByte(stateVersion)
	buf.WriteByte(byte(kind))
	buf.Write(binary.AppendUvarint(nil, uint64(len(fingerprint))))
	buf.WriteString(fingerprint)
	zw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("compress state: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress state: %w", err)
	}
	if buf.Len() > maxStateBytes {
		return nil, fmt.Errorf("state of %d bytes is larger than %d", buf.Len(), maxStateBytes)
	}
	return buf.Bytes(), nil
}

// flateWriters keep compressors between saves: each holds several hundred kilobytes of tables.
var flateWriters = sync.Pool{New: func() any {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return zw
}}

// openState checks a state's header against the kind and fingerprint of the check it is read
// into and returns its body, decompressed.
func openState(data []byte, kind stateKind, fingerprint string) ([]byte, error) {
	if len(data) > maxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than any check holds", ErrState, len(data))
	}
	if len(data) < len(stateMagic)+2 || string(data[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: not a check state", ErrState)
	}
	data = data[len(stateMagic):]
	if data[0] != stateVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrState, data[0], stateVersion)
	}
	if got := stateKind(data[1]); got != kind {
		return nil, fmt.Errorf("%w: state of kind %s, this check is of kind %s", ErrStateMismatch, got, kind)
	}
	r := &stateReader{b: data[2:]}
	saved := string(r.bytes(r.length(maxFingerprint, "fingerprint")))
	if r.err != nil {
		return nil, r.err
	}
	if saved != fingerprint {
		return nil, fmt.Errorf("%w: %s", ErrStateMismatch, mismatch(saved, fingerprint))
	}
	body, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(r.b)), maxStateBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	case len(body) > maxStateBytes:
		return nil, fmt.Errorf("%w: more than %d bytes once decompressed", ErrState, maxStateBytes)
	}
	return body, nil
}

// mismatch says how a saved fingerprint differs from a check's: the settings that differ when
// both name the same settings, else both in full.
func mismatch(saved, mine string) string {
	a, b := strings.Fields(saved), strings.Fields(mine)
	if len(a) == len(b) {
		var diffs []string
		for i := range a {
			if a[i] != b[i] {
				diffs = append(diffs, a[i]+" saved, "+b[i]+" here")
			}
		}
		return strings.Join(diffs, "; ")
	}
	return "saved by " + saved + "; this check is " + mine
}

func (k stateKind) String() string {
	switch k {
	case kindLatency:
		return "latency"
	case kindErrorRate:
		return "error-rate"
	case kindValues:
		return "values"
	case kindShift:
		return "shift"
	case kindHistogram:
		return "histogram latency"
	case kindSketch:
		return "sketch"
	}
	return "kind " + strconv.Itoa(int(k))
}

// fingerprint describes a check's configuration, exactly (every number in full precision), and
// the statistics it is computed with.
func fingerprint(kind stateKind, cfg Config, t *Threshold, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s check name=%q%s alpha=%s passAlpha=%s block=%s minSamples=%d environments=%q/%q",
		kind, cfg.Name, extra, exact(cfg.Alpha), exact(cfg.PassAlpha), cfg.Block, cfg.MinSamples, cfg.BaselineName, cfg.CandidateName)
	if t != nil {
		lim := func(name string, v *float64) {
			if v != nil {
				b.WriteString(" " + name + "=" + exact(*v))
			}
		}
		lim("maxRatio", t.MaxRatio)
		lim("maxIncrease", t.MaxIncrease)
		lim("max", t.Max)
		b.WriteString(" direction=" + string(t.Direction))
	}
	b.WriteString(" statistics=" + statisticsHash())
	return b.String()
}

func exact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// statisticsHash names the build of the statistics a state was computed with: the stakes, the
// quantile grid, the fixed-point wealth, the caps per block and the sketch's accuracy. A state
// saved by a build that weighed evidence differently is not mixed into this one.
func statisticsHash() string {
	h := fnv.New64a()
	put := func(vs ...float64) {
		for _, v := range vs {
			_ = binary.Write(h, binary.LittleEndian, math.Float64bits(v))
		}
	}
	put(stakes...)
	put(pairStakes...)
	put(gridOffsets...)
	put(wealthUnit, wealthFloor, wealthCeiling, latencyCap, errorCap, growCap, gridAfter,
		maxBlockObservations, maxPending, exactLimit, DefaultRelativeError, minIndexable)
	return fmt.Sprintf("%016x", h.Sum64())
}

// stateWriter appends a body.
type stateWriter struct{ b []byte }

func (w *stateWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *stateWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *stateWriter) float(v float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}

func (w *stateWriter) boolean(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *stateWriter) floats(vs []float64) {
	w.uvarint(uint64(len(vs)))
	for _, v := range vs {
		w.float(v)
	}
}

// stateReader reads a body. The first problem sticks: later reads return zero values, and err
// says what was wrong where.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrState, fmt.Sprintf(format, a...))
	}
}

func (r *stateReader) ok() bool { return r.err == nil }

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a varint that must lie in [lo, hi].
func (r *stateReader) count(lo, hi int64, what string) int64 {
	v := r.varint()
	if r.err == nil && (v < lo || v > hi) {
		r.fail("%s %d out of [%d, %d]", what, v, lo, hi)
		return lo
	}
	return v
}

func (r *stateReader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *stateReader) boolean() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	if v > 1 {
		r.fail("flag %d is neither 0 nor 1", v)
	}
	return v == 1
}

// length reads the length of a sequence of at most max elements of at least one byte each.
func (r *stateReader) length(max int, what string) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if v > uint64(max) || v > uint64(len(r.b)) {
		r.fail("%s: length %d (at most %d, %d bytes left)", what, v, max, len(r.b))
		return 0
	}
	return int(v)
}

func (r *stateReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// floats reads a sequence of at most max values, each of which must satisfy valid.
func (r *stateReader) floats(max int, valid func(float64) bool, what string) []float64 {
	n := r.length(max, what)
	if r.err != nil {
		return nil
	}
	if n > len(r.b)/8 {
		r.fail("%s: %d values in %d bytes", what, n, len(r.b))
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = r.float()
		if !valid(out[i]) {
			r.fail("%s: bad value %v", what, out[i])
			return nil
		}
	}
	return out
}

// end reports the first problem, or bytes left over.
func (r *stateReader) end() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	return r.err
}

// Value checks for the decoder.
func finiteValue(v float64) bool  { return !math.IsNaN(v) && !math.IsInf(v, 0) }
func latencyValue(v float64) bool { return finiteValue(v) && v >= 0 }
func countValue(v float64) bool   { return finiteValue(v) && v >= 0 }
