// Package judged makes check outcomes for tests: compare's own checks fed to known states, so
// that what reads an outcome (its limits, the dashboard's charts) can be held to what the judge
// decided. It is for tests only.
package judged

import (
	"math/rand/v2"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// Outcomes are outcomes of compare's own checks of every kind a limit bounds (error rate,
// latency, shift, values), with ratio, difference and guard limits in each direction, fed so
// that each ends in a known state: pass, fail or undecided. The same seed gives the same
// outcomes.
func Outcomes() ([]verdict.CheckResult, error) {
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
		if err != nil {
			return nil, err
		}
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
		if err != nil {
			return nil, err
		}
		for range 600 {
			v := 0.05 + rng.Float64()*0.02
			if err := l.Add(compare.Baseline, v); err != nil {
				return nil, err
			}
			if err := l.Add(compare.Candidate, v*tc.factor); err != nil {
				return nil, err
			}
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
		if err != nil {
			return nil, err
		}
		for range 400 {
			b := rng.Float64()
			if err := s.AddPair(b, b*tc.factor+0.001); err != nil {
				return nil, err
			}
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
		if err != nil {
			return nil, err
		}
		for range 200 {
			b := 1 + rng.Float64()
			if err := v.AddPair(b, b*tc.factor); err != nil {
				return nil, err
			}
		}
		add(v.Evaluate())
	}
	return out, nil
}
