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

func newGreenlight(s *scenario, cfg *simConfig) (judge, error) {
	c, err := newChecks(s, cfg.alpha, !s.errors, s.errors)
	return c, err
}

// newChecks builds the latency check, the error-rate check or both, each at level alpha.
func newChecks(s *scenario, alpha float64, latency, errors bool) (*greenlightJudge, error) {
	cfg := compare.Config{Alpha: alpha, BaselineName: "blue", CandidateName: "green"}
	g := &greenlightJudge{}
	var err error
	if errors {
		if g.errs, err = compare.NewErrorRate(cfg, compare.Threshold{MaxIncrease: compare.F(errorMaxIncrease)}); err != nil {
			return nil, err
		}
	}
	if latency {
		if g.lat, err = compare.NewLatency(cfg, s.percentile, compare.Threshold{MaxRatio: compare.F(latencyMaxRatio)}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// add feeds one second of data to the checks: the probes' outcomes pair by pair, in the order
// an analysis feeds a monitor's pairs (baseline, then candidate), and the latencies.
func (g *greenlightJudge) add(tk *tick) {
	if g.errs != nil {
		n := tk.total[blue]
		for i := int64(0); i < n; i++ {
			b := i < tk.both+tk.onlyBlue
			c := i < tk.both || (i >= tk.both+tk.onlyBlue && i < tk.both+tk.onlyBlue+tk.onlyGreen)
			g.errs.Add(compare.Baseline, b)
			g.errs.Add(compare.Candidate, c)
		}
	}
	if g.lat != nil {
		for side := range 2 {
			for _, v := range tk.lat[side] {
				// Simulated latencies are finite and positive, so Add cannot fail.
				_ = g.lat.Add(compare.Side(side), v)
			}
		}
	}
}

func (g *greenlightJudge) observe(tk *tick) verdict {
	g.add(tk)
	var o compare.Outcome
	if g.errs != nil {
		o = g.errs.Evaluate()
	} else {
		o = g.lat.Evaluate()
	}
	return verdictOf(o.State)
}

func verdictOf(s compare.State) verdict {
	switch s {
	case compare.Fail:
		return rollback
	case compare.Pass:
		return promote
	}
	return undecided
}

func (g *greenlightJudge) final() verdict { return inconclusive }

// analysisJudge is the Analysis a user writes by default: a p95 check (maxRatio 1.2) and an
// error-rate check (maxIncrease 0.5%) on the same monitor, both critical, so each gets half
// the false-rollback budget. It rolls back when either fails and promotes when both pass, but
// not before policy.minDuration.
type analysisJudge struct {
	checks      *greenlightJudge
	minDuration int
}

func newAnalysis(s *scenario, cfg *simConfig) (judge, error) {
	c, err := newChecks(s, cfg.alpha/2, true, true)
	if err != nil {
		return nil, err
	}
	return &analysisJudge{checks: c, minDuration: cfg.minDuration}, nil
}

func (a *analysisJudge) observe(tk *tick) verdict {
	a.checks.add(tk)
	l, e := a.checks.lat.Evaluate().State, a.checks.errs.Evaluate().State
	switch {
	case l == compare.Fail || e == compare.Fail:
		return rollback
	case l == compare.Pass && e == compare.Pass && tk.t >= a.minDuration:
		return promote
	}
	return undecided
}

func (a *analysisJudge) final() verdict { return inconclusive }
