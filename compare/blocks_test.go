package compare

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feed runs a check for seconds, calling add once per simulated second after telling the check
// the time, and returns the first decision with its second (Inconclusive, 0 if none).
func feed(t *testing.T, c interface {
	Advance(time.Duration)
	Decide() State
	Evaluate() Outcome
}, seconds int, add func(sec int)) (State, int, Outcome) {
	t.Helper()
	for sec := 1; sec <= seconds; sec++ {
		c.Advance(time.Duration(sec-1) * time.Second)
		add(sec)
		if s := c.Decide(); s != Inconclusive {
			o := c.Evaluate()
			require.Equal(t, s, o.State, "Decide and Evaluate agree: %s", o.Reason)
			return s, sec, o
		}
	}
	return Inconclusive, 0, c.Evaluate()
}

// A latency episode that fits in one block of evidence cannot fail a check alone: four seconds
// of a candidate three times slower, at 100 observations a second, then two identical minutes.
// Without blocks the same data fail the check within two seconds, as the first version did.
func TestLatencyEpisodeInOneBlockCannotDecide(t *testing.T) {
	run := func(block time.Duration) (State, int, Outcome) {
		rng := rand.New(rand.NewPCG(5, 6))
		c, err := NewLatency(Config{Block: block, BaselineName: "blue", CandidateName: "green"}, 95, Threshold{MaxRatio: F(1.2)})
		require.NoError(t, err)
		return feed(t, c, 120, func(sec int) {
			f := 1.0
			if sec <= 4 {
				f = 3
			}
			for range 100 {
				require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.5)))
				require.NoError(t, c.Add(Candidate, f*lognormal(rng, 0.1, 0.5)))
			}
		})
	}
	state, sec, o := run(DefaultBlock)
	assert.NotEqual(t, Fail, state, "at %d s: %s", sec, o.Reason)
	state, sec, o = run(0)
	assert.Equal(t, Fail, state, o.Reason)
	assert.LessOrEqual(t, sec, 5, "without blocks the episode alone decides: %s", o.Reason)
}

// A burst of errors in one block cannot fail a check alone: three seconds in which every
// candidate probe fails, then five clean minutes, at 10 probes a second.
func TestErrorBurstInOneBlockCannotDecide(t *testing.T) {
	run := func(block time.Duration) (State, int, Outcome) {
		c, err := NewErrorRate(Config{Block: block}, Threshold{MaxIncrease: F(0.005)})
		require.NoError(t, err)
		return feed(t, c, 300, func(sec int) {
			for range 10 {
				c.Add(Baseline, false)
				c.Add(Candidate, sec <= 3)
			}
		})
	}
	state, sec, o := run(DefaultBlock)
	assert.NotEqual(t, Fail, state, "at %d s: %s", sec, o.Reason)
	state, _, o = run(0)
	assert.Equal(t, Fail, state, "without blocks the burst alone decides: %s", o.Reason)
}

// A regression that persists is still caught within seconds: p95 ×2 at 10 observations a
// second, errors 0% → 5% at 10 probes a second, with blocks.
func TestPersistentRegressionStillCaughtFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	l, err := NewLatency(Config{Alpha: 0.005, Block: DefaultBlock}, 95, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	state, sec, o := feed(t, l, 300, func(int) {
		for range 10 {
			require.NoError(t, l.Add(Baseline, lognormal(rng, 0.1, 0.5)))
			require.NoError(t, l.Add(Candidate, 2*lognormal(rng, 0.1, 0.5)))
		}
	})
	assert.Equal(t, Fail, state, o.Reason)
	assert.LessOrEqual(t, sec, 60, o.Reason)

	e, err := NewErrorRate(Config{Alpha: 0.005, Block: DefaultBlock}, Threshold{MaxIncrease: F(0.005)})
	require.NoError(t, err)
	i := 0
	state, sec, o = feed(t, e, 300, func(int) {
		for range 10 {
			i++
			e.Add(Baseline, false)
			e.Add(Candidate, i%20 == 0)
		}
	})
	assert.Equal(t, Fail, state, o.Reason)
	assert.LessOrEqual(t, sec, 60, o.Reason)
}

func TestBlocksConfig(t *testing.T) {
	_, err := NewLatency(Config{Block: -time.Second}, 95, Threshold{MaxRatio: F(1.2)})
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewErrorRate(Config{PassAlpha: 0.6}, Threshold{MaxIncrease: F(0.01)})
	assert.ErrorIs(t, err, ErrConfig)

	// Without blocks Advance changes nothing.
	a, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005)})
	b, _ := NewErrorRate(Config{}, Threshold{MaxIncrease: F(0.005)})
	for i := range 2000 {
		a.Advance(time.Duration(i) * time.Second)
		for _, c := range []*ErrorRate{a, b} {
			c.Add(Baseline, false)
			c.Add(Candidate, i%40 == 0)
		}
	}
	assert.Equal(t, a.Evaluate(), b.Evaluate())
}
