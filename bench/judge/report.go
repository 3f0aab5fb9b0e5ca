package main

import (
	"fmt"
	"io"
	"strings"
)

// report is everything a run measured; -json writes it as it is.
type report struct {
	Settings    settings         `json:"settings"`
	Scenarios   []scenarioReport `json:"scenarios"`
	Goals       []goal           `json:"goals"`
	WallSeconds float64          `json:"wall_seconds"`
}

type settings struct {
	Runs              int      `json:"runs"`
	HorizonSeconds    int      `json:"horizon_seconds"`
	Rates             []int    `json:"rates"` // observations per second per environment
	Alpha             float64  `json:"alpha"`
	Seed              uint64   `json:"seed"`
	Parallel          int      `json:"parallel"`
	Judges            []string `json:"judges"`
	LatencyMaxRatio   float64  `json:"latency_max_ratio"`
	ErrorMaxIncrease  float64  `json:"error_max_increase"`
	KayentaConfidence float64  `json:"kayenta_confidence"`
	FailureLimit      int      `json:"threshold_failure_limit"`
}

type scenarioReport struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"` // latency or errors
	Percentile  float64      `json:"percentile,omitempty"`
	Description string       `json:"description"`
	Truth       truth        `json:"truth"`
	Results     []rateResult `json:"results"`
}

type rateResult struct {
	Rate   int          `json:"rate"`
	Judges []judgeStats `json:"judges"`
	Oracle oracleResult `json:"oracle"`
}

type goal struct {
	Goal      string   `json:"goal"`
	Target    string   `json:"target"`
	Reference string   `json:"reference,omitempty"` // an anytime-valid reference judge on the same kind of data
	Measured  string   `json:"measured,omitempty"`
	Status    string   `json:"status"` // met, not met, measured (no limit), not measured
	Detail    []string `json:"detail"`
}

func newReport(o options, cfg simConfig) *report {
	r := &report{Settings: settings{
		Runs: o.runs, HorizonSeconds: cfg.horizon, Rates: o.rates, Alpha: o.alpha, Seed: o.seed,
		Parallel: o.parallel, LatencyMaxRatio: latencyMaxRatio, ErrorMaxIncrease: errorMaxIncrease,
		KayentaConfidence: kayentaConfidence, FailureLimit: failureLimit,
	}}
	for _, k := range cfg.judges {
		r.Settings.Judges = append(r.Settings.Judges, k.name)
	}
	return r
}

func label(name string) string {
	for _, k := range judgeKinds {
		if k.name == name {
			return k.label
		}
	}
	return name
}

func writeTables(w io.Writer, r *report) {
	s := r.Settings
	fmt.Fprintf(w, "judgebench: %d runs per scenario and rate, horizon %ds, evaluated every second, α = %s, seed %d\n",
		s.Runs, s.HorizonSeconds, pct(s.Alpha), s.Seed)
	fmt.Fprintf(w, "tolerance: latency percentile ratio ≤ %.2f; error rate ≤ +%.2fpp. Kayenta: 1-minute points, 98%% confidence. Threshold: 1-minute measurements, failureLimit %d.\n",
		s.LatencyMaxRatio, 100*s.ErrorMaxIncrease, s.FailureLimit)
	fmt.Fprintln(w, "Rates are of all runs; times are simulated seconds to the decision (median/p90) over the runs that reached it.")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(w, "\n%s: %s\n", sc.Name, sc.Description)
		roll := "detection"
		if sc.Truth.Healthy {
			roll = "false rollback"
		}
		for _, rr := range sc.Results {
			fmt.Fprintf(w, "  %-6s %-25s %14s %17s %8s %8s %15s %15s\n", fmt.Sprintf("%d/s", rr.Rate),
				fmt.Sprintf("(%d runs)", s.Runs), roll, "[Wilson 95%]", "promote", "incon.", "rollback t50/90", "promote t50/90")
			for _, j := range rr.Judges {
				fmt.Fprintf(w, "  %-6s %-25s %14s %17s %8s %8s %15s %15s\n", "", label(j.Judge),
					pct(j.RollbackRate), fmt.Sprintf("[%s, %s]", pct(j.RollbackCI[0]), pct(j.RollbackCI[1])),
					pct(j.PromoteRate), pct(j.InconRate), t5090(j.RollbackTime), t5090(j.PromoteTime))
			}
			fmt.Fprintf(w, "  %-6s %-25s %s\n", "", "oracle (knows blue, 1 look)", oracleLine(rr.Oracle))
		}
	}
	writeSummary(w, r)
}

func oracleLine(o oracleResult) string {
	var parts []string
	for _, p := range o.At {
		parts = append(parts, fmt.Sprintf("%s %s", dur(p.Seconds), pct(p.Power)))
	}
	if o.Null {
		return fmt.Sprintf("size at %s; max %s", strings.Join(parts, " · "), pct(o.MaxSize))
	}
	return fmt.Sprintf("power at %s; 50%% at %s, 90%% at %s", strings.Join(parts, " · "), reach(o, "50%"), reach(o, "90%"))
}

func reach(o oracleResult, k string) string {
	if t, ok := o.Reach[k]; ok {
		return fmt.Sprintf("%ds", t)
	}
	return "never"
}

// writeSummary prints one line per scenario and rate, then the goals.
func writeSummary(w io.Writer, r *report) {
	fmt.Fprintln(w, "\nSUMMARY — rollback rate per judge (false rollbacks where the truth is healthy, detections where it is a regression)")
	fmt.Fprintf(w, "%-24s %-18s %5s | %-20s | %-20s | %-35s | %s\n", "", "", "", "greenlight", "default Analysis", "reference judges: rollback rate", "oracle")
	fmt.Fprintf(w, "%-24s %-18s %5s | %6s %6s %5s  | %6s %6s %5s  | %8s %8s %8s %8s | %s\n", "scenario", "truth", "rate",
		"roll", "prom", "t50", "roll", "prom", "t50", "Kay-15m", "Kay-1m", "thresh", "naive", "90% at")
	for _, sc := range r.Scenarios {
		for _, rr := range sc.Results {
			byName := map[string]judgeStats{}
			for _, j := range rr.Judges {
				byName[j.Judge] = j
			}
			ours := func(n string) string {
				j, ok := byName[n]
				if !ok {
					return "n/a"
				}
				t := j.PromoteHalf
				if !sc.Truth.Healthy {
					t = j.RollbackHalf
				}
				return fmt.Sprintf("%6s %6s %5s", pct(j.RollbackRate), pct(j.PromoteRate), secs(t))
			}
			rate := func(n string) string {
				if j, ok := byName[n]; ok {
					return pct(j.RollbackRate)
				}
				return "n/a"
			}
			o := "—"
			if !rr.Oracle.Null {
				o = reach(rr.Oracle, "90%")
			}
			fmt.Fprintf(w, "%-24s %-18s %5d | %-20s | %-20s | %8s %8s %8s %8s | %s\n", sc.Name, truthShort(sc), rr.Rate, ours("greenlight"), ours("analysis"),
				rate("kayenta-fixed"), rate("kayenta-minutely"), rate("threshold"), rate("naive-peeking"), o)
		}
	}
	fmt.Fprintln(w, "(t50: the second by which half of all runs had promoted on healthy truth, rolled back on regressions; – if fewer than half did)")
	fmt.Fprintln(w, "\nGOALS (reference: an anytime-valid reference judge measured on the same kind of data, where one was)")
	for _, g := range r.Goals {
		fmt.Fprintf(w, "- %s: %s — target %s", g.Goal, strings.ToUpper(g.Status), g.Target)
		if g.Reference != "" {
			fmt.Fprintf(w, ", reference %s", g.Reference)
		}
		if g.Measured != "" {
			fmt.Fprintf(w, ", measured %s", g.Measured)
		}
		fmt.Fprintln(w)
		for _, d := range g.Detail {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
}

func truthShort(sc scenarioReport) string {
	tag := "REGRESSION"
	if sc.Truth.Healthy {
		tag = "healthy"
	}
	if sc.Kind == "errors" {
		return fmt.Sprintf("%+.2fpp %s", 100*sc.Truth.Diff, tag)
	}
	return fmt.Sprintf("×%.3f %s", *sc.Truth.Ratio, tag)
}

// pct prints a probability as a percentage with one decimal (two below 1%).
func pct(p float64) string {
	if p > 0 && p < 0.0001 {
		return "<0.01%"
	}
	if p > 0 && p < 0.01 {
		return fmt.Sprintf("%.2f%%", 100*p)
	}
	return fmt.Sprintf("%.1f%%", 100*p)
}

func secs(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f", *v)
}

func t5090(t timeStats) string { return secs(t.Median) + "/" + secs(t.P90) }

func dur(s int) string {
	if s%60 == 0 {
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}
