package main

import (
	"fmt"
	"math"
)

// evaluateGoals checks the measured figures against greenlight's stated goals and says, with
// the numbers, whether each is met.
func evaluateGoals(r *report, alpha float64) []goal {
	out := []goal{falseRollbackGoal(r, alpha, "greenlight"), falseRollbackGoal(r, alpha, "analysis")}
	for _, t := range targets {
		out = append(out, t.evaluate(r))
	}
	return out
}

// target is one goal for one judge on one scenario at one rate, with the figure an
// anytime-valid reference judge reached on the same kind of data where one was measured.
type target struct {
	what      string
	judge     string
	scenario  string
	rate      int
	metric    string  // "rollback-half", "promote-half": seconds by which half the runs did; "detection": share rolled back
	limit     float64 // at most this many seconds, or at least this share
	reference string  // the reference-grade figure, "" when none was measured
}

// targets are the goals of the judge's second pass: the default Analysis (p95 maxRatio 1.2 and
// error rate maxIncrease 0.5%, both critical) at 10 observations per second unless said.
var targets = []target{
	{"p95 ×2: median time to roll back", "analysis", "latency/scale-2", 10, "rollback-half", 30, ""},
	{"p95 ×2 under latency episodes: median time to roll back", "analysis", "latency/episodes-scale-2", 10, "rollback-half", 30, ""},
	{"errors 0% → 5%: median time to roll back", "analysis", "errors/0-to-5", 10, "rollback-half", 30, ""},
	{"errors 0.1% → 5.1%: median time to roll back", "analysis", "errors/0.1-to-5.1", 10, "rollback-half", 30, ""},
	{"errors +5pp under bursts: median time to roll back", "analysis", "errors/bursty-+5pp", 10, "rollback-half", 30, ""},
	{"errors 0% → 1%: median time to roll back", "analysis", "errors/0-to-1", 10, "rollback-half", 300, ""},
	{"errors 0.1% → 1.1%: median time to roll back", "analysis", "errors/0.1-to-1.1", 10, "rollback-half", 300, ""},
	{"p95 ×1.25 at 100/s: caught within the horizon", "analysis", "latency/scale-1.25", 100, "detection", 0.95, "99.5%"},
	{"errors +1pp (0.1% → 1.1%): caught within the horizon", "analysis", "errors/0.1-to-1.1", 10, "detection", 0, "83.6%"},
	{"errors 0% → 1%: caught within the horizon", "analysis", "errors/0-to-1", 10, "detection", 0, "96.9%"},
	{"errors 0% → 2% at 1/s: caught within the horizon", "analysis", "errors/0-to-2", 1, "detection", 0, "40.3%"},
	{"identical, lognormal: median time to promote", "analysis", "latency/aa-lognormal", 10, "promote-half", 180, ""},
	{"identical, 0% errors: median time to promote", "analysis", "errors/aa-0", 10, "promote-half", 180, ""},
	{"identical, 0.1% errors: median time to promote", "analysis", "errors/aa-0.1", 10, "promote-half", 180, ""},
	{"identical, lognormal at 100/s: median time to promote", "analysis", "latency/aa-lognormal", 100, "promote-half", 45, ""},
	{"identical, 0.1% errors at 100/s: median time to promote", "analysis", "errors/aa-0.1", 100, "promote-half", 45, ""},
}

func (t target) evaluate(r *report) goal {
	g := goal{Goal: fmt.Sprintf("%s (%s, %s at %d/s)", t.what, label(t.judge), t.scenario, t.rate), Status: "not measured", Reference: t.reference}
	switch t.metric {
	case "detection":
		if t.limit > 0 {
			g.Target = "≥ " + pct(t.limit)
		} else {
			g.Target = "as close to the reference as can be"
		}
	default:
		g.Target = fmt.Sprintf("≤ %.0f s", t.limit)
	}
	j, ok := r.find(t.judge, t.scenario, t.rate)
	if !ok {
		return g
	}
	var met bool
	switch t.metric {
	case "detection":
		g.Measured = fmt.Sprintf("%s [%s, %s]", pct(j.RollbackRate), pct(j.RollbackCI[0]), pct(j.RollbackCI[1]))
		met = j.RollbackRate >= t.limit
	case "rollback-half", "promote-half":
		h, st := j.RollbackHalf, j.RollbackTime
		if t.metric == "promote-half" {
			h, st = j.PromoteHalf, j.PromoteTime
		}
		g.Measured = "never (fewer than half the runs)"
		if h != nil {
			g.Measured = fmt.Sprintf("%.0f s", *h)
			met = *h <= t.limit
		}
		g.Detail = append(g.Detail, fmt.Sprintf("over the %d of %d runs that did: median %s s, p90 %s s", st.N, j.Runs, secs(st.Median), secs(st.P90)))
	}
	switch {
	case t.metric == "detection" && t.limit == 0:
		g.Status = "measured"
	case met:
		g.Status = "met"
	default:
		g.Status = "not met"
	}
	return g
}

// find returns a judge's figures on one scenario at one rate.
func (r *report) find(judge, scenario string, rate int) (judgeStats, bool) {
	for _, sc := range r.Scenarios {
		if sc.Name != scenario {
			continue
		}
		for _, rr := range sc.Results {
			if rr.Rate != rate {
				continue
			}
			for _, j := range rr.Judges {
				if j.Judge == judge {
					return j, true
				}
			}
		}
	}
	return judgeStats{}, false
}

func falseRollbackGoal(r *report, alpha float64, judge string) goal {
	g := goal{Goal: fmt.Sprintf("%s: false rollback ≤ %s (α) on every healthy scenario at every rate", label(judge), pct(alpha)),
		Target: "≤ " + pct(alpha), Status: "not measured"}
	cells, worst, worstAt := 0, -1.0, ""
	for _, sc := range r.Scenarios {
		if !sc.Truth.Healthy {
			continue
		}
		for _, rr := range sc.Results {
			for _, j := range rr.Judges {
				if j.Judge != judge {
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
		g.Measured = "0 in every cell"
		g.Detail = append(g.Detail, fmt.Sprintf("no false rollback in any of the %d healthy cells (%d runs each: Wilson 95%% upper bound %s)",
			cells, r.Settings.Runs, pct(wilsonUpper(0, r.Settings.Runs))))
	} else {
		g.Measured = "worst " + pct(worst)
		g.Detail = append(g.Detail, fmt.Sprintf("%d healthy cells; highest: %s", cells, worstAt))
	}
	runs := r.Settings.Runs
	k := int(math.Round(alpha * float64(runs)))
	lo, hi := wilson(k, runs)
	g.Detail = append(g.Detail, fmt.Sprintf("with %d runs a cell cannot tell %s from %s: %d/%d has the Wilson 95%% interval [%s, %s]",
		runs, pct(alpha), pct(1.3*alpha), k, runs, pct(lo), pct(hi)))
	return g
}

func wilsonUpper(k, n int) float64 {
	_, hi := wilson(k, n)
	return hi
}
