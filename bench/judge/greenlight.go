package main

import (
	"time"

	"github.com/greenlight/greenlight/compare"
)

// greenlightJudge runs greenlight's own check on every simulated second's raw data and
// evaluates it once a second, as an analysis would.
type greenlightJudge struct {
	lat  *compare.Latency
	errs *compare.ErrorRate
}

func newGreenlight(s *scenario, cfg *simConfig) (judge, error) {
	c, err := newChecks(s, cfg.alpha, cfg.alpha, !s.errors, s.errors)
	return c, err
}

// newChecks builds the latency check, the error-rate check or both, as an analysis builds them
// for a monitor: false fails at level alpha, false passes at passAlpha, evidence in blocks.
func newChecks(s *scenario, alpha, passAlpha float64, latency, errors bool) (*greenlightJudge, error) {
	cfg := compare.Config{Alpha: alpha, PassAlpha: passAlpha, Block: compare.DefaultBlock, BaselineName: "blue", CandidateName: "green"}
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

// add feeds one second of data to the checks: the time first (second t spans [t−1, t)), then
// the probes' outcomes pair by pair, in the order an analysis feeds a monitor's pairs
// (baseline, then candidate), and the latencies.
func (g *greenlightJudge) add(tk *tick) {
	at := time.Duration(tk.t-1) * time.Second
	if g.errs != nil {
		g.errs.Advance(at)
		n := tk.total[blue]
		for i := int64(0); i < n; i++ {
			b := i < tk.both+tk.onlyBlue
			c := i < tk.both || (i >= tk.both+tk.onlyBlue && i < tk.both+tk.onlyBlue+tk.onlyGreen)
			g.errs.Add(compare.Baseline, b)
			g.errs.Add(compare.Candidate, c)
		}
	}
	if g.lat != nil {
		g.lat.Advance(at)
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
	if g.errs != nil {
		return verdictOf(g.errs.Decide())
	}
	return verdictOf(g.lat.Decide())
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
// the false-rollback budget (and the whole budget for a false pass: a promote needs both to
// pass). It rolls back when either fails and promotes when both pass, but not before
// policy.minDuration.
type analysisJudge struct {
	checks      *greenlightJudge
	minDuration int
}

func newAnalysis(s *scenario, cfg *simConfig) (judge, error) {
	c, err := newChecks(s, cfg.alpha/2, cfg.alpha, true, true)
	if err != nil {
		return nil, err
	}
	return &analysisJudge{checks: c, minDuration: cfg.minDuration}, nil
}

func (a *analysisJudge) observe(tk *tick) verdict {
	a.checks.add(tk)
	l, e := a.checks.lat.Decide(), a.checks.errs.Decide()
	switch {
	case l == compare.Fail || e == compare.Fail:
		return rollback
	case l == compare.Pass && e == compare.Pass && tk.t >= a.minDuration:
		return promote
	}
	return undecided
}

func (a *analysisJudge) final() verdict { return inconclusive }
