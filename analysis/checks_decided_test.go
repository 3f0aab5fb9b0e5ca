package analysis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

type stateSeq []compare.State

func (s *stateSeq) Evaluate() compare.Outcome {
	st := (*s)[0]
	if len(*s) > 1 {
		*s = (*s)[1:]
	}
	return compare.Outcome{State: st}
}

// A check's result carries the time it reached its decided state, and keeps it while the
// state holds; an undecided check has none.
func TestResultAtKeepsTheDecisionTime(t *testing.T) {
	seq := stateSeq{compare.Inconclusive, compare.Inconclusive, compare.Fail, compare.Fail, compare.Inconclusive}
	c := &check{spec: &specs.Check{Name: "p95"}, eval: &seq}
	var got []time.Duration
	for i := range 5 {
		got = append(got, c.resultAt(time.Duration(i+1)*time.Second).Decided)
	}
	assert.Equal(t, []time.Duration{0, 0, 3 * time.Second, 3 * time.Second, 0}, got)
}
