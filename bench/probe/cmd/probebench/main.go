// Command probebench measures greenlight's probe engine (synthetic.Run driving smoke.Runner)
// against a target server in another process, and in the same run measures Prometheus
// blackbox_exporter probing the same endpoint and wrk (or hey) hammering it as the
// raw-throughput reference. It prints one table with every figure side by side, or -json.
//
// Figures: the engine's CPU time per probe at a few fixed rates, its most sustained probes/s
// (monitors are added until it saturates the machine), its measurement overhead (each probe's
// measured latency minus the target's own timing of that very request, matched by the probe's
// W3C trace id) and its bias between the roles on two identical targets (A/A). See
// bench/probe/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
	"github.com/greenlight/greenlight/synthetic"
)

// config is the command line.
type config struct {
	targets      []string
	blackbox     string
	raw          string
	delay        time.Duration
	rates        []float64
	mainRate     float64
	cpuDur       time.Duration
	cpuRepeat    int
	sweep        []int
	sweepEvery   time.Duration
	sweepDur     time.Duration
	jitter       float64
	overheadRate float64
	overheadDur  time.Duration
	bbN          int
	bbConc       []int
	bbDur        time.Duration
	rawDur       time.Duration
	rawThreads   int
	rawConns     int
	cpuprofile   string
	profileDur   time.Duration
	json         bool
	timeout      time.Duration
	orders       []synthetic.Order
	aaRate       float64
	aaDur        time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probebench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probebench:", err)
		os.Exit(1)
	}
	if cfg.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "probebench:", err)
			os.Exit(1)
		}
		return
	}
	rep.print(os.Stdout)
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("probebench", flag.ContinueOnError)
	c := &config{}
	targets := fs.String("targets", "", "base URLs of the blue and green environments, comma-separated (two ports of one probeserver process)")
	fs.StringVar(&c.blackbox, "blackbox", "prometheus-blackbox-exporter", "blackbox_exporter binary; empty to leave it out")
	fs.StringVar(&c.raw, "raw", "wrk", "raw-throughput tool: wrk, or hey; empty to leave it out")
	fs.DurationVar(&c.delay, "delay", time.Millisecond, "the target's fixed delay for the second overhead measurement")
	rates := fs.String("rates", "200,1000,4000", "probes/s at which the engine's CPU per probe is measured")
	fs.Float64Var(&c.mainRate, "main-rate", 4000, "the rate (one of -rates) whose CPU per probe is the headline figure")
	fs.DurationVar(&c.cpuDur, "cpu-dur", 3*time.Second, "length of each CPU measurement")
	fs.IntVar(&c.cpuRepeat, "cpu-repeat", 3, "CPU measurements per rate, interleaved; the median is reported")
	sweep := fs.String("sweep", "40,60,80,100,120,140,160,200,240", "monitor counts tried, in order, to saturate the engine")
	fs.DurationVar(&c.sweepEvery, "sweep-every", 10*time.Millisecond, "every of each monitor in the sweep (10ms is the shortest allowed)")
	fs.DurationVar(&c.sweepDur, "sweep-dur", 4*time.Second, "length of each sweep step")
	fs.Float64Var(&c.jitter, "jitter", 0.5, "each monitor's jitter, as a fraction of its every, in the CPU and saturation runs (0: every monitor fires at the same instant)")
	fs.Float64Var(&c.overheadRate, "overhead-rate", 100, "probes/s while measuring the overhead (also measured at -main-rate)")
	fs.DurationVar(&c.overheadDur, "overhead-dur", 5*time.Second, "length of each overhead measurement")
	fs.IntVar(&c.bbN, "bb-n", 1000, "sequential blackbox_exporter probes without delay (half as many with it)")
	bbConc := fs.String("bb-conc", "4,16,64", "concurrent /probe requests tried for blackbox_exporter's most probes/s")
	fs.DurationVar(&c.bbDur, "bb-dur", 3*time.Second, "length of each concurrent blackbox_exporter load")
	fs.DurationVar(&c.rawDur, "raw-dur", 5*time.Second, "length of the wrk run")
	fs.IntVar(&c.rawThreads, "raw-threads", 2, "wrk threads")
	fs.IntVar(&c.rawConns, "raw-conns", 64, "wrk connections")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the engine at its saturating load to this file")
	fs.DurationVar(&c.profileDur, "profile-dur", 4*time.Second, "length of the profiled run")
	fs.BoolVar(&c.json, "json", false, "print the figures as JSON instead of the table")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "give up after this long")
	orders := fs.String("order", "random,baseline-first", "launch orders of the A/A runs, comma-separated: random (the engine's), baseline-first (the order before it was randomised), candidate-first")
	fs.Float64Var(&c.aaRate, "aa-rate", 1000, "probes/s of each A/A run")
	fs.DurationVar(&c.aaDur, "aa-dur", 5*time.Second, "length of each A/A run; 0 leaves the A/A section out")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.targets = splitList(*targets)
	if len(c.targets) != 2 {
		return nil, errors.New("-targets wants two base URLs, blue,green")
	}
	var err error
	if c.rates, err = parseFloats(*rates); err != nil {
		return nil, fmt.Errorf("-rates: %w", err)
	}
	if c.sweep, err = parseInts(*sweep); err != nil {
		return nil, fmt.Errorf("-sweep: %w", err)
	}
	if c.bbConc, err = parseInts(*bbConc); err != nil {
		return nil, fmt.Errorf("-bb-conc: %w", err)
	}
	for _, f := range splitList(*orders) {
		o, err := synthetic.ParseOrder(f)
		if err != nil {
			return nil, fmt.Errorf("-order: %w", err)
		}
		c.orders = append(c.orders, o)
	}
	if c.aaRate <= 0 {
		return nil, errors.New("-aa-rate must be positive")
	}
	if c.jitter < 0 || c.jitter >= 1 {
		return nil, errors.New("-jitter is a fraction of every, in [0, 1)")
	}
	if c.cpuRepeat < 1 {
		return nil, errors.New("-cpu-repeat must be at least 1")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// say reports progress on stderr, so that stdout holds only the table or the JSON.
func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

// rateSpec spreads rate probes/s over the fewest monitors that respect the 10ms floor.
func (c *config) rateSpec(rate float64, dur time.Duration) engineSpec {
	monitors := max(1, int(math.Ceil(rate*0.01/2)))
	every := time.Duration(float64(monitors) * 2 * float64(time.Second) / rate)
	return c.spec(monitors, every, dur)
}

// spec is monitors monitors every every, with the configured jitter, on /health.
func (c *config) spec(monitors int, every, dur time.Duration) engineSpec {
	return engineSpec{monitors: monitors, every: every, jitter: time.Duration(c.jitter * float64(every)), duration: dur, path: "/health"}
}

func run(ctx context.Context, cfg *config) (*report, error) {
	srv := &target.Client{HTTP: &http.Client{Timeout: 10 * time.Second}, URL: cfg.targets[0]}
	st, err := waitTarget(ctx, srv)
	if err != nil {
		return nil, err
	}
	rep := &report{Machine: machineInfo{
		Cores:        runtime.NumCPU(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		Go:           runtime.Version(),
		LoadAverage:  loadAverage(),
		ServerPID:    st.PID,
		Delay:        cfg.delay.String(),
		MainRate:     cfg.mainRate,
		OverheadRate: cfg.overheadRate,
		Jitter:       cfg.jitter,
	}}
	e := newEngine(cfg.targets[0], cfg.targets[1], srv)
	b := newBare(cfg.targets[0], cfg.targets[1], srv)
	rep.Bare.CPU = &cpuRate{Rate: cfg.mainRate}

	say("greenlight: warm-up")
	if _, err := e.run(ctx, cfg.rateSpec(cfg.mainRate, time.Second)); err != nil {
		return nil, err
	}
	if _, _, err := b.run(ctx, cfg.rateSpec(cfg.mainRate, time.Second), false); err != nil {
		return nil, err
	}

	if err := measureCPU(ctx, cfg, e, b, rep); err != nil {
		return nil, err
	}
	if err := measureMax(ctx, cfg, e, b, rep); err != nil {
		return nil, err
	}
	if err := measureOverhead(ctx, cfg, e, b, rep); err != nil {
		return nil, err
	}
	if cfg.aaDur > 0 {
		if err := measureAA(ctx, cfg, e, rep); err != nil {
			return nil, err
		}
	}
	e.runner.CloseIdle()
	b.client.CloseIdleConnections()

	if cfg.blackbox != "" {
		bb, err := measureBlackbox(ctx, cfg, srv)
		if err != nil {
			return nil, err
		}
		rep.Blackbox = bb
	}
	if cfg.raw != "" {
		bin, err := exec.LookPath(cfg.raw)
		if err != nil {
			return nil, fmt.Errorf("raw-throughput tool: %w", err)
		}
		say("%s: %d threads, %d connections, %s", cfg.raw, cfg.rawThreads, cfg.rawConns, cfg.rawDur)
		rep.Raw, err = runRaw(ctx, bin, cfg.targets[0]+"/health", srv, cfg.rawDur, cfg.rawThreads, cfg.rawConns)
		if err != nil {
			return nil, err
		}
		if out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", debPackage(bin)).Output(); err == nil {
			rep.Raw.Version = string(out)
		}
	}
	rep.judge()
	return rep, nil
}

// debPackage maps a tool to its Debian package name, for the version shown.
func debPackage(bin string) string {
	if strings.HasSuffix(bin, "hey") {
		return "hey"
	}
	return "wrk"
}

// waitTarget waits, at most 10s, for the target's control API.
func waitTarget(ctx context.Context, srv *target.Client) (*target.Stats, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := srv.Stats(ctx, false)
		if err == nil {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("target at %s: %w", srv.URL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
