package compare

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Sketch holds non-negative values (latencies in seconds, say) and answers order-statistic
// queries. Up to exactLimit values it stores them exactly; past that it becomes a DDSketch
// (Masson, Rim & Lee, VLDB 2019) with relative accuracy ε: the value it returns for any rank is
// within a factor (1±ε) of the true order statistic at that rank. Memory is bounded by the
// dynamic range of the values, not their number: 1µs to 1000s at ε = 0.5% is about 2,100 bins.
//
// Callers that build intervals from a sketch widen them by its RelativeError, so the sketch's
// approximation is accounted for in every bound.
type Sketch struct {
	exact   []float64 // values while n ≤ exactLimit; exact[:sorted] is in order
	sorted  int
	scratch []float64 // merge buffer, reused

	// DDSketch state once exact storage is given up.
	gamma    float64
	logGamma float64
	offset   int       // bin index of bins[0]
	bins     []float64 // counts
	zeros    float64   // values at or below minIndexable (treated as 0)

	n        int64
	min, max float64
}

const (
	exactLimit = 4096
	// DefaultRelativeError is the sketch's relative accuracy once it leaves exact storage.
	DefaultRelativeError = 0.005
	minIndexable         = 1e-9
)

// ErrBadValue is returned for values a check cannot use: NaN, ±Inf, or a negative latency.
var ErrBadValue = errors.New("bad value")

// NewSketch returns an empty sketch.
func NewSketch() *Sketch {
	g := (1 + DefaultRelativeError) / (1 - DefaultRelativeError)
	return &Sketch{gamma: g, logGamma: math.Log(g), min: math.Inf(1), max: math.Inf(-1)}
}

// Add records one value. It rejects NaN, infinities and negative values.
func (s *Sketch) Add(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%w: %v (must be a finite number ≥ 0)", ErrBadValue, v)
	}
	s.n++
	s.min, s.max = math.Min(s.min, v), math.Max(s.max, v)
	if s.bins == nil {
		if len(s.exact) < exactLimit {
			s.exact = append(s.exact, v)
			return nil
		}
		s.toSketch()
	}
	s.addBinned(v, 1)
	return nil
}

// Count is the number of values added.
func (s *Sketch) Count() int64 { return s.n }

// Exact reports whether answers are exact (no approximation yet).
func (s *Sketch) Exact() bool { return s.bins == nil }

// RelativeError is the bound on |returned − true| / true for any rank: 0 while exact.
func (s *Sketch) RelativeError() float64 {
	if s.Exact() {
		return 0
	}
	return DefaultRelativeError
}

// sortExact brings the exact values into order by sorting only those added since the last query
// and merging them in: a check evaluated every second does not re-sort thousands of values.
func (s *Sketch) sortExact() {
	if s.sorted == len(s.exact) {
		return
	}
	tail := s.exact[s.sorted:]
	slices.Sort(tail)
	if s.sorted > 0 && s.exact[s.sorted-1] > tail[0] {
		s.scratch = s.scratch[:0]
		i, j := 0, s.sorted
		for i < s.sorted && j < len(s.exact) {
			if s.exact[i] <= s.exact[j] {
				s.scratch = append(s.scratch, s.exact[i])
				i++
			} else {
				s.scratch = append(s.scratch, s.exact[j])
				j++
			}
		}
		s.scratch = append(s.scratch, s.exact[i:s.sorted]...)
		s.scratch = append(s.scratch, s.exact[j:]...)
		s.exact, s.scratch = s.scratch, s.exact
	}
	s.sorted = len(s.exact)
}

func (s *Sketch) toSketch() {
	s.bins = make([]float64, 0, 64)
	for _, v := range s.exact {
		s.addBinned(v, 1)
	}
	s.exact, s.scratch, s.sorted = nil, nil, 0
}

func (s *Sketch) index(v float64) int {
	return int(math.Ceil(math.Log(v) / s.logGamma))
}

func (s *Sketch) value(i int) float64 {
	return 2 * math.Pow(s.gamma, float64(i)) / (1 + s.gamma)
}

func (s *Sketch) addBinned(v, count float64) {
	if v <= minIndexable {
		s.zeros += count
		return
	}
	i := s.index(v)
	switch {
	case len(s.bins) == 0:
		s.offset = i
		s.bins = append(s.bins, count)
		return
	case i < s.offset:
		grow := s.offset - i
		s.bins = append(make([]float64, grow, grow+len(s.bins)), s.bins...)
		s.offset = i
	case i >= s.offset+len(s.bins):
		s.bins = append(s.bins, make([]float64, i-s.offset-len(s.bins)+1)...)
	}
	s.bins[i-s.offset] += count
}

// Rank returns the k-th smallest value (1-based). k ≤ 0 gives 0 (nothing is below every value);
// k > Count gives +Inf. In sketch mode the value is within RelativeError of the true one.
func (s *Sketch) Rank(k int64) float64 {
	switch {
	case k <= 0:
		return 0
	case k > s.n:
		return math.Inf(1)
	}
	if s.Exact() {
		s.sortExact()
		return s.exact[k-1]
	}
	if k == 1 {
		return s.min
	}
	if k == s.n {
		return s.max
	}
	cum := s.zeros
	if float64(k) <= cum {
		return 0
	}
	for j, c := range s.bins {
		cum += c
		if float64(k) <= cum {
			v := s.value(s.offset + j)
			return math.Min(math.Max(v, s.min), s.max)
		}
	}
	return s.max
}

// Quantile returns the empirical q-quantile (the ceil(q·n)-th value), or NaN when empty.
func (s *Sketch) Quantile(q float64) float64 {
	if s.n == 0 {
		return math.NaN()
	}
	k := int64(math.Ceil(q * float64(s.n)))
	if k < 1 {
		k = 1
	}
	return s.Rank(k)
}

// Merge adds every value of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o.n == 0 {
		return
	}
	if o.Exact() {
		for _, v := range o.exact {
			_ = s.Add(v)
		}
		return
	}
	if s.Exact() {
		s.toSketch()
	}
	s.n += o.n
	s.min, s.max = math.Min(s.min, o.min), math.Max(s.max, o.max)
	s.zeros += o.zeros
	for j, c := range o.bins {
		if c > 0 {
			s.addBinned(o.value(o.offset+j), c)
		}
	}
}

// Bytes estimates the memory held, for the bounded-memory guarantee.
func (s *Sketch) Bytes() int {
	return 8*cap(s.exact) + 8*cap(s.scratch) + 8*cap(s.bins) + 112
}
