package synthetic

import (
	"testing"
	"time"

	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		at    int                // ms after t0
		debit map[string]float64 // charged before taking, if set
		want  bool
	}
	tests := []struct {
		name  string
		rate  float64
		cost  map[string]float64
		steps []step
	}{
		{
			// 5 requests a run at 50/s: the bucket holds two runs and refills one every 100ms.
			name: "burst of two runs then the rate",
			rate: 50, cost: map[string]float64{"blue": 5, "green": 5},
			steps: []step{{at: 0, want: true}, {at: 1, want: true}, {at: 2, want: false}, {at: 99, want: false}, {at: 102, want: true}, {at: 150, want: false}, {at: 202, want: true}},
		},
		{
			name: "idle time does not bank more than the burst",
			rate: 50, cost: map[string]float64{"blue": 5, "green": 5},
			steps: []step{{at: 0, want: true}, {at: 10_000, want: true}, {at: 10_001, want: true}, {at: 10_002, want: false}},
		},
		{
			// A rehearsal suite sends more to one environment: the scarcer bucket decides for both.
			name: "both environments or none",
			rate: 10, cost: map[string]float64{"blue": 1, "green": 3},
			steps: []step{{at: 0, want: true}, {at: 1, want: true}, {at: 100, want: false}, {at: 300, want: true}},
		},
		{
			name: "retries debited slow later runs",
			rate: 10, cost: map[string]float64{"blue": 1, "green": 1},
			steps: []step{{at: 0, want: true}, {at: 1, debit: map[string]float64{"green": 2}, want: false}, {at: 150, want: false}, {at: 210, want: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.rate, tt.cost)
			for _, s := range tt.steps {
				if s.debit != nil {
					l.debit(s.debit)
				}
				assert.Equal(t, s.want, l.take(at(s.at)), "at %dms", s.at)
			}
		})
	}
}

func TestRunCost(t *testing.T) {
	suite := &specs.Suite{Steps: []specs.Step{{Name: "write", Env: "green"}, {Name: "read"}, {Name: "check"}}}
	m := &Monitor{Suite: suite}
	assert.Equal(t, map[string]float64{"blue": 2, "green": 4}, runCost(m, "blue", "green"))
	assert.Equal(t, 6, m.Burst())
}
