package server

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// judgedOutcomes are outcomes of compare's own checks, fed so that each ends in a known state:
// the limits the dashboard and the metrics show must say what the judge decided.
func judgedOutcomes(t *testing.T) []verdict.CheckResult {
	t.Helper()
	cfg := compare.Config{Name: "c", BaselineName: "blue", CandidateName: "green"}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []verdict.CheckResult
	add := func(o compare.Outcome) {
		out = append(out, verdict.CheckResult{Outcome: o, Name: o.Check, Critical: true})
	}

	for _, tc := range []struct {
		name       string
		t          compare.Threshold
		blue, gren float64 // error rates
	}{
		{"error rate fails on increase", compare.Threshold{MaxIncrease: compare.F(0.05)}, 0, 1},
		{"error rate passes", compare.Threshold{MaxIncrease: compare.F(0.05)}, 0, 0},
		{"error rate ratio fails", compare.Threshold{MaxRatio: compare.F(1.5)}, 0.05, 0.5},
		{"error rate guard fails", compare.Threshold{Max: compare.F(0.1)}, 0, 0.6},
		{"error rate undecided", compare.Threshold{MaxIncrease: compare.F(0.05)}, 0.1, 0.13},
	} {
		c := cfg
		c.Name = tc.name
		er, err := compare.NewErrorRate(c, tc.t)
		require.NoError(t, err)
		n := 400
		if tc.name == "error rate undecided" {
			n = 60
		}
		for range n {
			er.Add(compare.Baseline, rng.Float64() < tc.blue)
			er.Add(compare.Candidate, rng.Float64() < tc.gren)
		}
		add(er.Evaluate())
	}
	for _, tc := range []struct {
		name   string
		t      compare.Threshold
		factor float64
	}{
		{"latency fails", compare.Threshold{MaxRatio: compare.F(1.2)}, 3},
		{"latency passes", compare.Threshold{MaxRatio: compare.F(1.2), MaxIncrease: compare.F(0.05)}, 1},
		{"latency decrease", compare.Threshold{MaxRatio: compare.F(1.2), Direction: compare.Decrease}, 0.3},
		{"latency either", compare.Threshold{MaxIncrease: compare.F(0.01), Direction: compare.Either}, 2},
	} {
		c := cfg
		c.Name = tc.name
		l, err := compare.NewLatency(c, 95, tc.t)
		require.NoError(t, err)
		for range 600 {
			v := 0.05 + rng.Float64()*0.02
			require.NoError(t, l.Add(compare.Baseline, v))
			require.NoError(t, l.Add(compare.Candidate, v*tc.factor))
		}
		add(l.Evaluate())
	}
	for _, tc := range []struct {
		name   string
		dir    compare.Direction
		factor float64
	}{{"shift fails", compare.Increase, 2}, {"shift passes", compare.Increase, 0.5}, {"shift decrease fails", compare.Decrease, 0.5}} {
		c := cfg
		c.Name = tc.name
		s, err := compare.NewShift(c, 0.6, tc.dir)
		require.NoError(t, err)
		for range 400 {
			b := rng.Float64()
			require.NoError(t, s.AddPair(b, b*tc.factor+0.001))
		}
		add(s.Evaluate())
	}
	for _, tc := range []struct {
		name   string
		factor float64
	}{{"values fail", 2}, {"values pass", 1}} {
		c := cfg
		c.Name = tc.name
		v, err := compare.NewValues(c, compare.Threshold{MaxRatio: compare.F(1.2)})
		require.NoError(t, err)
		for range 200 {
			b := 1 + rng.Float64()
			require.NoError(t, v.AddPair(b, b*tc.factor))
		}
		add(v.Evaluate())
	}
	return out
}

// TestLimitsMatchJudges: a failed check has a limit its interval lies surely outside, a passed
// one has every interval within, an undecided one neither.
func TestLimitsMatchJudges(t *testing.T) {
	seen := map[compare.State]int{}
	for _, c := range judgedOutcomes(t) {
		t.Run(c.Name, func(t *testing.T) {
			ls := limits(c)
			require.NotEmpty(t, ls, c.Reason)
			violated, satisfied := false, true
			for _, l := range ls {
				violated = violated || l.violated()
				satisfied = satisfied && l.satisfied()
			}
			seen[c.State]++
			switch c.State {
			case compare.Fail:
				assert.True(t, violated, c.Reason)
			case compare.Pass:
				assert.True(t, satisfied, c.Reason)
				assert.False(t, violated, c.Reason)
			default:
				assert.False(t, violated, c.Reason)
				assert.False(t, satisfied, c.Reason)
			}
		})
	}
	// The table covers every state it means to.
	assert.Positive(t, seen[compare.Fail])
	assert.Positive(t, seen[compare.Pass])
	assert.Positive(t, seen[compare.Inconclusive])
}

func TestLimitsOfUnjudgedChecks(t *testing.T) {
	assert.Empty(t, limits(verdict.CheckResult{Outcome: compare.Outcome{Kind: "trace-shape"}}))
}
