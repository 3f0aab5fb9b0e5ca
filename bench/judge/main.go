// Command judgebench measures how often and how fast greenlight's comparison checks reach the
// right verdict, on simulated blue-green deployments whose truth is known, beside reference
// judges built from the documented algorithms of Kayenta, Argo Rollouts/Flagger thresholds and
// a naively re-run fixed-sample test, on the same simulated data, and beside the exact power of
// an oracle test. README.md beside this file documents the flags, the scenarios, the judges
// and how to read the report: `go run ./bench/judge -h` lists the flags.
//
// It owns the simulation, the reference judges and the report; it must not change how
// greenlight judges: it only calls the compare package's public API. It lives under bench/, not
// compare/, because compare must do no I/O.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "judgebench:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

type options struct {
	runs       int
	horizon    time.Duration
	scenarios  *regexp.Regexp
	rates      []int
	alpha      float64
	parallel   int
	seed       uint64
	json       bool
	judges     []judgeKind
	cpuProfile string
	list       bool
	minDur     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("judgebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 400, "simulated analyses per scenario and rate")
	fs.DurationVar(&o.horizon, "horizon", 15*time.Minute, "simulated length of an analysis (evaluated every simulated second)")
	scen := fs.String("scenarios", "", "regular expression selecting scenarios by name (default: all; see -list)")
	rates := fs.String("rates", "1,10,100", "observations per second per environment, comma-separated")
	fs.Float64Var(&o.alpha, "alpha", 0.01, "greenlight's false-fail probability, the naive test's level and the oracle's")
	fs.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "worker goroutines")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed gives the same figures")
	fs.BoolVar(&o.json, "json", false, "write the results as JSON instead of tables")
	judges := fs.String("judges", "", "comma-separated judges to run (default: all): "+judgeNames())
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	fs.BoolVar(&o.list, "list", false, "list the scenarios with their truth and exit")
	fs.DurationVar(&o.minDur, "min-duration", 30*time.Second, "the analysis judge's policy.minDuration: no promote before it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: judgebench [flags]\n\nSimulates blue-green analyses with known truth and scores greenlight's checks against reference judges.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage
	}
	bad := func(format string, a ...any) (options, error) {
		fmt.Fprintf(stderr, "judgebench: "+format+"\n", a...)
		return o, errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.scenarios, err = regexp.Compile(*scen); err != nil {
		return bad("-scenarios: %v", err)
	}
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 {
			return bad("-rates: %q is not a positive whole number of observations per second", f)
		}
		o.rates = append(o.rates, r)
	}
	switch {
	case o.runs < 1:
		return bad("-runs must be at least 1")
	case o.horizon < time.Second || o.horizon%time.Second != 0:
		return bad("-horizon must be a whole number of seconds, at least 1s")
	case !(o.alpha > 0 && o.alpha < 0.5):
		return bad("-alpha must be in (0, 0.5)")
	case o.parallel < 1:
		return bad("-parallel must be at least 1")
	case o.minDur < 0 || o.minDur%time.Second != 0:
		return bad("-min-duration must be a whole number of seconds, at least 0")
	}
	if o.judges, err = pickJudges(*judges); err != nil {
		return bad("-judges: %v", err)
	}
	return o, nil
}

func judgeNames() string {
	var n []string
	for _, k := range judgeKinds {
		n = append(n, k.name)
	}
	return strings.Join(n, ", ")
}

func pickJudges(list string) ([]judgeKind, error) {
	if strings.TrimSpace(list) == "" {
		return judgeKinds, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []judgeKind
	for _, k := range judgeKinds {
		if want[k.name] {
			out = append(out, k)
			delete(want, k.name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("unknown judge %q (known: %s)", n, judgeNames())
	}
	return out, nil
}

// run is the whole command; main only wires it to the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	scens := selectScenarios(catalog(), o.scenarios)
	if len(scens) == 0 {
		fmt.Fprintf(stderr, "judgebench: no scenario matches %q (see -list)\n", o.scenarios)
		return errUsage
	}
	if o.list {
		for _, s := range scens {
			fmt.Fprintf(stdout, "%-24s %s\n", s.name, s.describe())
		}
		return nil
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	cfg := simConfig{runs: o.runs, horizon: int(o.horizon / time.Second), alpha: o.alpha, seed: o.seed,
		parallel: o.parallel, judges: o.judges, minDuration: int(o.minDur / time.Second)}
	rep := newReport(o, cfg)
	start := time.Now()
	cells, done := len(scens)*len(o.rates), 0
	for _, s := range scens {
		sr := scenarioReport{Name: s.name, Kind: kindName(s), Description: s.describe(), Truth: s.truth()}
		if !s.errors {
			sr.Percentile = s.percentile
		}
		for _, rate := range o.rates {
			t0 := time.Now()
			dec, err := runCell(ctx, s, rate, cfg)
			if err != nil {
				return fmt.Errorf("simulate %s at %d/s: %w", s.name, rate, err)
			}
			rr := rateResult{Rate: rate, Oracle: oracle(s, rate, cfg.horizon, o.alpha)}
			for j, k := range cfg.judges {
				rr.Judges = append(rr.Judges, summarise(k.name, dec[j]))
			}
			sr.Results = append(sr.Results, rr)
			done++
			fmt.Fprintf(stderr, "judgebench: [%d/%d] %s at %d/s: %d runs in %s (elapsed %s)\n",
				done, cells, s.name, rate, o.runs, time.Since(t0).Round(10*time.Millisecond), time.Since(start).Round(time.Second))
		}
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	rep.Goals = evaluateGoals(rep, o.alpha)
	rep.WallSeconds = time.Since(start).Seconds()
	wall := fmt.Sprintf("wall time %s for %d scenario×rate cells × %d runs on %d workers",
		time.Since(start).Round(time.Second), cells, o.runs, o.parallel)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		fmt.Fprintln(stderr, "judgebench:", wall)
		return enc.Encode(rep)
	}
	writeTables(stdout, rep)
	fmt.Fprintln(stdout, "\n"+wall)
	return nil
}

func kindName(s *scenario) string {
	if s.errors {
		return "errors"
	}
	return "latency"
}
