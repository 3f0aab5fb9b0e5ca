package compare

import (
	"fmt"
	"math"
)

// pairer matches candidate and baseline observations in arrival order: the i-th candidate value
// with the i-th baseline value. Monitors probe both environments at the same moment, so arrival
// order pairs values measured together; for independent streams any pairing that does not look
// at the values is valid. Unmatched values wait in a bounded queue (the oldest are dropped past
// maxPending, which only loses information, never validity).
type pairer struct {
	pending [2][]float64
}

const maxPending = 4096

// add queues v for side s and returns the completed pair, if any.
func (p *pairer) add(s Side, v float64) (b, c float64, ok bool) {
	other := Candidate
	if s == Candidate {
		other = Baseline
	}
	if q := p.pending[other]; len(q) > 0 {
		w := q[0]
		p.pending[other] = q[1:]
		if s == Candidate {
			return w, v, true
		}
		return v, w, true
	}
	if len(p.pending[s]) >= maxPending {
		p.pending[s] = p.pending[s][1:]
	}
	p.pending[s] = append(p.pending[s], v)
	return 0, 0, false
}

// addValue validates v and pairs it; a completed pair goes to sink.
func (p *pairer) addValue(s Side, v float64, sink func(b, c float64)) error {
	if err := finiteValues(v); err != nil {
		return err
	}
	if b, c, ok := p.add(s, v); ok {
		sink(b, c)
	}
	return nil
}

// addPair validates a pair measured together and hands it to sink.
func addPair(b, c float64, sink func(b, c float64)) error {
	if err := finiteValues(b, c); err != nil {
		return err
	}
	sink(b, c)
	return nil
}

func finiteValues(vs ...float64) error {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %v", ErrBadValue, v)
		}
	}
	return nil
}
