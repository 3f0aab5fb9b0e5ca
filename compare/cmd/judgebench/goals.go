package main

import (
	"fmt"
	"math"
)

// evaluateGoals checks the measured figures against greenlight's stated goals and says, with
// the numbers, whether each is met.
func evaluateGoals(r *report, alpha float64) []goal {
	return []goal{falseRollbackGoal(r, alpha), fastDetectionGoal(r)}
}

func falseRollbackGoal(r *report, alpha float64) goal {
	g := goal{Goal: fmt.Sprintf("greenlight false rollback ≤ %s (α) on every healthy scenario at every rate", pct(alpha)), Status: "not measured"}
	cells, worst, worstAt := 0, -1.0, ""
	for _, sc := range r.Scenarios {
		if !sc.Truth.Healthy {
			continue
		}
		for _, rr := range sc.Results {
			for _, j := range rr.Judges {
				if j.Judge != "greenlight" {
					continue
				}
				cells++
				at := fmt.Sprintf("%s at %d/s: %d/%d = %s, Wilson 95%% [%s, %s]", sc.Name, rr.Rate,
					j.Rollbacks, j.Runs, pct(j.RollbackRate), pct(j.RollbackCI[0]), pct(j.RollbackCI[1]))
				if j.RollbackRate > worst {
					worst, worstAt = j.RollbackRate, at
				}
				switch {
				case j.RollbackCI[0] > alpha:
					g.Detail = append(g.Detail, at+" — above α, significantly (the interval excludes α)")
				case j.RollbackRate > alpha:
					g.Detail = append(g.Detail, at+" — above α, but not significantly")
				}
			}
		}
	}
	if cells == 0 {
		return g
	}
	g.Status = "met"
	if len(g.Detail) > 0 {
		g.Status = "not met"
	}
	if worst == 0 {
		g.Detail = append(g.Detail, fmt.Sprintf("no false rollback in any of the %d healthy cells (%d runs each: Wilson 95%% upper bound %s)",
			cells, r.Settings.Runs, pct(wilsonUpper(0, r.Settings.Runs))))
	} else {
		g.Detail = append(g.Detail, fmt.Sprintf("%d healthy cells; highest: %s", cells, worstAt))
	}
	runs := r.Settings.Runs
	k := int(math.Round(alpha * float64(runs)))
	lo, hi := wilson(k, runs)
	g.Detail = append(g.Detail, fmt.Sprintf("with %d runs a cell cannot tell %s from %s: %d/%d has the Wilson 95%% interval [%s, %s]",
		runs, pct(alpha), pct(1.3*alpha), k, runs, pct(lo), pct(hi)))
	return g
}

func fastDetectionGoal(r *report) goal {
	const name, rate, limit = "latency/scale-2", 10, 30.0
	g := goal{Goal: fmt.Sprintf("p95 ×2 (%s) at %d obs/s: greenlight's median time to roll back ≤ %.0f s", name, rate, limit), Status: "not measured"}
	for _, sc := range r.Scenarios {
		if sc.Name != name {
			continue
		}
		for _, rr := range sc.Results {
			if rr.Rate != rate {
				continue
			}
			for _, j := range rr.Judges {
				if j.Judge != "greenlight" || j.RollbackTime.Median == nil {
					continue
				}
				g.Status = "not met"
				if *j.RollbackTime.Median <= limit {
					g.Status = "met"
				}
				g.Detail = append(g.Detail, fmt.Sprintf("median %s s, p90 %s s over %d rollbacks; detection %s of %d runs",
					secs(j.RollbackTime.Median), secs(j.RollbackTime.P90), j.RollbackTime.N, pct(j.RollbackRate), j.Runs))
			}
		}
	}
	return g
}

func wilsonUpper(k, n int) float64 {
	_, hi := wilson(k, n)
	return hi
}
