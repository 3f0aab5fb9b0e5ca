package main

import (
	"github.com/greenlight/greenlight/compare"
)

// greenlightJudge runs greenlight's own check on every simulated second's raw data and
// evaluates it once a second, as an analysis would.
type greenlightJudge struct {
	lat  *compare.Latency
	errs *compare.ErrorRate
}

func newGreenlight(s *scenario, alpha float64) (judge, error) {
	cfg := compare.Config{Alpha: alpha, BaselineName: "blue", CandidateName: "green"}
	if s.errors {
		c, err := compare.NewErrorRate(cfg, compare.Threshold{MaxIncrease: compare.F(errorMaxIncrease)})
		return &greenlightJudge{errs: c}, err
	}
	c, err := compare.NewLatency(cfg, s.percentile, compare.Threshold{MaxRatio: compare.F(latencyMaxRatio)})
	return &greenlightJudge{lat: c}, err
}

func (g *greenlightJudge) observe(tk *tick) verdict {
	var o compare.Outcome
	if g.errs != nil {
		for side := range 2 {
			// Counts are valid by construction (0 ≤ errors ≤ total).
			_ = g.errs.AddCounts(compare.Side(side), tk.errs[side], tk.total[side])
		}
		o = g.errs.Evaluate()
	} else {
		for side := range 2 {
			for _, v := range tk.lat[side] {
				// Simulated latencies are finite and positive, so Add cannot fail.
				_ = g.lat.Add(compare.Side(side), v)
			}
		}
		o = g.lat.Evaluate()
	}
	switch o.State {
	case compare.Fail:
		return rollback
	case compare.Pass:
		return promote
	}
	return undecided
}

func (g *greenlightJudge) final() verdict { return inconclusive }
