package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
)

func newPlanCmd() *cobra.Command {
	var (
		rates  []string
		name   string
		output string
		o      analysis.ForecastOptions
		errs   string
		more   string
	)
	cmd := &cobra.Command{
		Use:   "plan ANALYSIS.yaml [SUITES...]",
		Short: "Show how long an analysis needs to decide, by simulating it with the real judge",
		Long: `Plan simulates an analysis with greenlight's own judge before it runs: each check fed at its
monitor's rate (or the rate given), with a healthy candidate and with a regressed one, until
policy.maxDuration; then the critical checks together, as verify decides (minDuration, the
false-rollback budget shared among critical checks). It prints, per check and for the whole
analysis, how often each scenario promotes, rolls back or ends inconclusive, and when half of the
simulated analyses had decided.

  greenlight plan analysis.yaml suites/
  greenlight plan analysis.yaml suites/ --rate journey=5 --rate server-5xx=200 --errors 0.1%

The service is simulated as lognormal latency (--median, --sigma) and independent errors at
--errors on both sides; the regressions are --slower times the latency and --more-errors more
errors (or twice what a check allows, if that is more). A check that reads a metrics source
is simulated only when its traffic is given with --rate CHECK=N.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return invalid("--output %q: want text or json", output)
			}
			var err error
			if o.Rates, err = parseRates(rates); err != nil {
				return err
			}
			if o.ErrorRate, err = parsePercent("--errors", errs); err != nil {
				return err
			}
			if o.MoreErrors, err = parsePercent("--more-errors", more); err != nil {
				return err
			}
			switch {
			case o.Runs < 1 || o.Runs > 100_000:
				return invalid("--runs %d: want 1 to 100000", o.Runs)
			case !(o.Sigma > 0 && o.Sigma <= 5):
				return invalid("--sigma %v: want a number in (0, 5]", o.Sigma)
			case o.Median <= 0:
				return invalid("--median %s: want a positive duration", o.Median)
			case !(o.Slower > 0):
				return invalid("--slower %v: want a positive factor", o.Slower)
			}
			// A simulation sends nothing: it needs no secret, as validate does not.
			docs, err := loadSpecsWith(cmd.Context(), args, specs.LoadOptions{AllowMissingSecrets: true})
			if err != nil {
				return err
			}
			a, err := pickAnalysis(docs, name)
			if err != nil {
				return err
			}
			for k := range o.Rates {
				if !knownName(a, k) {
					return invalid("--rate %s: no monitor or check %q in analysis %q", k, k, a.Metadata.Name)
				}
			}
			p, err := analysis.MakeForecast(a, o)
			if err != nil {
				return invalid("%v", err)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			writePlan(cmd.OutOrStdout(), a, p, o)
			for _, w := range analysis.HistogramWarnings(a) {
				fmt.Fprintf(cmd.OutOrStdout(), "\nwarning: %s\n", w)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&rates, "rate", nil, "observations per second per environment for a monitor or a check: NAME=N (repeatable)")
	f.StringVar(&name, "analysis", "", "the analysis to plan when the files hold several")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	f.DurationVar(&o.Median, "median", 100*time.Millisecond, "the service's median latency")
	f.Float64Var(&o.Sigma, "sigma", 0.5, "the spread of its latency (lognormal σ: 0.5 puts the p95 at 2.3× the median)")
	f.StringVar(&errs, "errors", "0%", "its error rate on both sides when healthy")
	f.Float64Var(&o.Slower, "slower", 2, "the latency regression: candidate latencies × this")
	f.StringVar(&more, "more-errors", "5%", "the error regression: this many more percentage points of errors")
	f.IntVar(&o.Runs, "runs", 200, "simulated analyses per scenario")
	f.Uint64Var(&o.Seed, "seed", 1, "the same seed gives the same plan")
	return cmd
}

// parseRates reads --rate NAME=N flags.
func parseRates(flags []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		r, err := strconv.ParseFloat(strings.TrimSuffix(v, "/s"), 64)
		if !ok || k == "" || err != nil || !(r > 0 && r <= 1e6) {
			return nil, invalid("--rate %q: want NAME=N, N observations per second (at most 1000000)", f)
		}
		out[k] = r
	}
	return out, nil
}

// parsePercent reads 0.1% or 0.001.
func parsePercent(flag, s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSuffix(t, "%"), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v*scale >= 0 && v*scale <= 1) {
		return 0, invalid("%s %q: want a percentage (0.1%%) or a proportion", flag, s)
	}
	return v * scale, nil
}

func knownName(a *specs.Analysis, n string) bool {
	for _, m := range a.Monitors {
		if m.Name == n {
			return true
		}
	}
	for _, c := range a.Checks {
		if c.Name == n {
			return true
		}
	}
	return false
}

func writePlan(w io.Writer, a *specs.Analysis, p *analysis.Forecast, o analysis.ForecastOptions) {
	fmt.Fprintf(w, "plan for analysis %s: %d simulated analyses per scenario, until maxDuration %s (minDuration %s)\n",
		a.Metadata.Name, o.Runs, p.MaxDuration, p.MinDuration)
	fmt.Fprintf(w, "service: lognormal latency, median %s, σ %g; errors %s on both sides when healthy\n\n", o.Median, o.Sigma, pct(o.ErrorRate))
	for _, c := range p.Checks {
		crit := "critical"
		if !c.Critical {
			crit = "advisory"
		}
		fmt.Fprintf(w, "check %s (%s, %s)", c.Check, c.Kind, crit)
		if c.Rate == 0 {
			fmt.Fprintf(w, ": %s\n", c.Note)
			continue
		}
		fmt.Fprintf(w, " at %s per environment, false-rollback budget %s\n", rate(c.Rate), pct(c.Alpha))
		writeOutcomes(w, "  ", c.Healthy)
		writeOutcomes(w, "  ", c.Regress)
	}
	if len(p.Analysis) > 0 {
		fmt.Fprintln(w, "\nthe analysis (critical checks together):")
		for _, out := range p.Analysis {
			writeOutcomes(w, "  ", out)
		}
		if len(p.NotSimulated) > 0 {
			fmt.Fprintf(w, "  (leaving out %s: not simulated)\n", strings.Join(p.NotSimulated, ", "))
		}
		if h := p.Analysis[0]; h.Promote < 0.5 {
			fmt.Fprintf(w, "\nA healthy candidate ends inconclusive in %s of analyses: raise the monitors' rates, policy.maxDuration, or the limits.\n", pct(h.Inconclusive))
		}
	}
}

func writeOutcomes(w io.Writer, indent string, o analysis.Outcomes) {
	fmt.Fprintf(w, "%s%-28s promote %6s (half by %s)   rollback %6s (half by %s)   inconclusive %6s\n", indent, o.Scenario+":",
		pct(o.Promote), half(o.PromoteHalf), pct(o.Rollback), half(o.RollbackHalf), pct(o.Inconclusive))
}

func half(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.String()
}

func pct(p float64) string { return strconv.FormatFloat(100*p, 'f', 1, 64) + "%" }

func rate(r float64) string {
	if r >= 1 {
		return strconv.FormatFloat(r, 'g', 4, 64) + "/s"
	}
	return "one every " + time.Duration(float64(time.Second)/r).Round(time.Millisecond).String()
}
