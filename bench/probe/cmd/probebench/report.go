package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Goals from the issue that asked for these figures.
const (
	goalCPUMicros   = 50     // CPU µs per probe, at most, with keep-alive
	goalPerSec      = 20_000 // sustained probes/s on 2 cores, at least
	goalOverheadP50 = 200    // µs between greenlight's latency and the server's own, at p50
)

type report struct {
	Machine    machineInfo     `json:"machine"`
	Greenlight greenlightFigs  `json:"greenlight"`
	Bare       bareFigs        `json:"bare_net_http"`
	Blackbox   *blackboxReport `json:"blackbox_exporter,omitempty"`
	Raw        *rawResult      `json:"raw,omitempty"`
	Goals      []goal          `json:"goals"`
	Ratios     ratios          `json:"ratios"`
}

type machineInfo struct {
	Cores        int     `json:"cores"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
	Go           string  `json:"go"`
	LoadAverage  string  `json:"load_average_before"`
	ServerPID    int     `json:"target_pid"`
	Delay        string  `json:"delay"`
	MainRate     float64 `json:"main_rate"`
	OverheadRate float64 `json:"overhead_rate"`
	Jitter       float64 `json:"jitter_fraction"`
}

type greenlightFigs struct {
	CPU      []*cpuRate        `json:"cpu_by_rate"`
	Sweep    []*engineResult   `json:"saturation_sweep"`
	Max      *engineResult     `json:"max"`               // the sweep step with the most completed probes/s
	Aligned  *engineResult     `json:"aligned,omitempty"` // the max's monitors without jitter
	Profiled *engineResult     `json:"profiled,omitempty"`
	Overhead []*overheadResult `json:"overhead"`
	AA       []*aaResult       `json:"aa,omitempty"` // one per launch order
}

// bareFigs are the plain net/http client's, paced as the engine is: the floor on this machine.
type bareFigs struct {
	CPU      *cpuRate          `json:"cpu"`    // at the main rate
	AtMax    *engineResult     `json:"at_max"` // with as many workers as the engine's max had monitors
	Overhead []*overheadResult `json:"overhead"`
}

// cpuRate is the repeated CPU measurement at one rate.
type cpuRate struct {
	Rate      float64         `json:"probes_per_s"`
	CPUMicros float64         `json:"cpu_us_per_probe"` // median of the runs
	MinMicros float64         `json:"min_cpu_us_per_probe"`
	MaxMicros float64         `json:"max_cpu_us_per_probe"`
	Runs      []*engineResult `json:"runs"`
}

func (c *cpuRate) summarise() {
	v := make([]float64, len(c.Runs))
	for i, r := range c.Runs {
		v[i] = r.CPUMicros
	}
	c.CPUMicros, c.MinMicros, c.MaxMicros = median(v), minOf(v), maxOf(v)
}

// mid is the run whose CPU per probe is the median (or nearest it), for its other figures.
func (c *cpuRate) mid() *engineResult {
	best := c.Runs[0]
	for _, r := range c.Runs {
		if abs(r.CPUMicros-c.CPUMicros) < abs(best.CPUMicros-c.CPUMicros) {
			best = r
		}
	}
	return best
}

type blackboxReport struct {
	Version    string            `json:"version"`
	Sequential *loadResult       `json:"sequential"`
	Delayed    *loadResult       `json:"sequential_delayed"`
	Loads      []*loadResult     `json:"concurrent"`
	Max        *loadResult       `json:"max"`
	Overhead   []*overheadResult `json:"overhead"`
}

type goal struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	Met  bool    `json:"met"`
}

type ratios struct {
	BlackboxCPUOverGreenlight      float64 `json:"blackbox_cpu_over_greenlight,omitempty"`
	GreenlightMaxOverRaw           float64 `json:"greenlight_max_over_raw,omitempty"`
	GreenlightMaxOverBlackbox      float64 `json:"greenlight_max_over_blackbox,omitempty"`
	GreenlightCPUOverBare          float64 `json:"greenlight_cpu_over_bare,omitempty"`
	BlackboxOverheadOverGreenlight float64 `json:"blackbox_overhead_over_greenlight,omitempty"`
}

// mainCPU is the CPU measurement at the main rate (or the last rate when none matches).
func (r *report) mainCPU() *cpuRate {
	for _, c := range r.Greenlight.CPU {
		if c.Rate == r.Machine.MainRate {
			return c
		}
	}
	return r.Greenlight.CPU[len(r.Greenlight.CPU)-1]
}

// overheadOf returns the result at rate (0 for blackbox_exporter's) and delay for measure ("" for
// the first).
func overheadOf(list []*overheadResult, rate float64, delay, measure string) *overheadResult {
	for _, o := range list {
		if o.Rate == rate && o.Delay == delay && (measure == "" || o.Measure == measure) {
			return o
		}
	}
	return nil
}

func (r *report) judge() {
	cpu := r.mainCPU()
	gl0 := overheadOf(r.Greenlight.Overhead, r.Machine.OverheadRate, "0s", "")
	gl1 := overheadOf(r.Greenlight.Overhead, r.Machine.OverheadRate, r.Machine.Delay, "")
	r.Goals = []goal{
		{Name: fmt.Sprintf("CPU µs per probe at %.0f probes/s", cpu.Rate), Want: fmt.Sprintf("≤ %d", goalCPUMicros), Got: cpu.CPUMicros, Met: cpu.CPUMicros <= goalCPUMicros},
		{Name: "max sustained probes/s", Want: fmt.Sprintf("≥ %d", goalPerSec), Got: r.Greenlight.Max.PerSec, Met: r.Greenlight.Max.PerSec >= goalPerSec},
		{Name: fmt.Sprintf("overhead p50 µs at %.0f probes/s, no delay", r.Machine.OverheadRate), Want: fmt.Sprintf("≤ %d", goalOverheadP50), Got: gl0.Overhead.P50, Met: gl0.Overhead.P50 <= goalOverheadP50},
		{Name: fmt.Sprintf("overhead p50 µs at %.0f probes/s, %s delay", r.Machine.OverheadRate, r.Machine.Delay), Want: fmt.Sprintf("≤ %d", goalOverheadP50), Got: gl1.Overhead.P50, Met: gl1.Overhead.P50 <= goalOverheadP50},
	}
	if r.Bare.CPU != nil && r.Bare.CPU.CPUMicros > 0 {
		r.Ratios.GreenlightCPUOverBare = cpu.CPUMicros / r.Bare.CPU.CPUMicros
	}
	if r.Raw != nil && r.Raw.PerSec > 0 {
		r.Ratios.GreenlightMaxOverRaw = r.Greenlight.Max.PerSec / r.Raw.PerSec
	}
	if b := r.Blackbox; b != nil {
		r.Ratios.BlackboxCPUOverGreenlight = b.Sequential.CPUMicros / cpu.CPUMicros
		r.Ratios.GreenlightMaxOverBlackbox = r.Greenlight.Max.PerSec / b.Max.PerSec
		if bo := overheadOf(b.Overhead, 0, "0s", "probe_duration_seconds"); bo != nil && gl0.Overhead.P50 > 0 {
			r.Ratios.BlackboxOverheadOverGreenlight = bo.Overhead.P50 / gl0.Overhead.P50
		}
	}
}

func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Probe engine: greenlight vs blackbox_exporter vs %s, one target on loopback, one run\n", r.rawName())
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s, load average before the run %s; the target is a separate process (pid %d) sharing those cores\n",
		m.Cores, m.GOMAXPROCS, m.Go, m.LoadAverage, m.ServerPID)
	if r.Blackbox != nil {
		fmt.Fprintf(w, "blackbox_exporter: %s\n", r.Blackbox.Version)
	}
	if r.Raw != nil {
		fmt.Fprintf(w, "%s: %s %s\n", r.Raw.Tool, r.Raw.Version, r.Raw.Args)
	}
	fmt.Fprintln(w)
	r.printSummary(w)
	fmt.Fprintln(w)
	r.printDetails(w)
}

func (r *report) rawName() string {
	if r.Raw == nil {
		return "wrk"
	}
	return r.Raw.Tool
}

func (r *report) printSummary(w io.Writer) {
	const na = "—"
	cpu := r.mainCPU()
	mx, bareMax := r.Greenlight.Max, r.Bare.AtMax
	bb, raw := r.Blackbox, r.Raw
	d := r.Machine.Delay
	met := func(i int) string {
		if r.Goals[i].Met {
			return "yes"
		}
		return "NO"
	}
	ratio := func(v float64, format string) string {
		if v == 0 {
			return ""
		}
		return fmt.Sprintf(format, v)
	}
	over := func(list []*overheadResult, rate float64, delay, measure string, p99 bool) string {
		o := overheadOf(list, rate, delay, measure)
		switch {
		case o == nil:
			return na
		case p99:
			return us(o.Overhead.P99)
		default:
			return us(o.Overhead.P50)
		}
	}
	// Cells of the reference tools, or "—" where one was left out.
	bbc := func(f func(*blackboxReport) string) string {
		if bb == nil {
			return na
		}
		return f(bb)
	}
	rawc := func(f func(*rawResult) string) string {
		if raw == nil {
			return na
		}
		return f(raw)
	}
	var bbOver []*overheadResult
	if bb != nil {
		bbOver = bb.Overhead
	}
	const bbMeasure = "probe_duration_seconds"

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	row("figure", "greenlight", "net/http (bare)", "blackbox_exporter", r.rawName()+" (raw)", "ratio", "goal", "met")
	row(fmt.Sprintf("CPU µs per probe, prober process (%.0f/s; blackbox sequential)", cpu.Rate),
		us1(cpu.CPUMicros), us1(r.Bare.CPU.CPUMicros),
		bbc(func(b *blackboxReport) string { return us1(b.Sequential.CPUMicros) }),
		rawc(func(x *rawResult) string { return us1(x.CPUMicros) }),
		strings.TrimPrefix(ratio(r.Ratios.BlackboxCPUOverGreenlight, "blackbox/greenlight %.1f×")+
			ratio(r.Ratios.GreenlightCPUOverBare, ", greenlight/bare %.1f×"), ", "),
		fmt.Sprintf("≤ %d", goalCPUMicros), met(0))
	row("max sustained probes/s (raw: requests/s)",
		thousands(mx.PerSec), thousands(bareMax.PerSec),
		bbc(func(b *blackboxReport) string { return thousands(b.Max.PerSec) }),
		rawc(func(x *rawResult) string { return thousands(x.PerSec) }),
		strings.TrimPrefix(ratio(r.Ratios.GreenlightMaxOverRaw, "greenlight/raw %.2f")+
			ratio(r.Ratios.GreenlightMaxOverBlackbox, ", greenlight/blackbox %.1f×"), ", "),
		"≥ "+thousands(goalPerSec), met(1))
	or, mr := r.Machine.OverheadRate, r.Machine.MainRate
	row(fmt.Sprintf("overhead vs server's own timing p50, µs (%.0f/s; blackbox sequential)", or),
		over(r.Greenlight.Overhead, or, "0s", "", false), over(r.Bare.Overhead, or, "0s", "", false), over(bbOver, 0, "0s", bbMeasure, false), na,
		ratio(r.Ratios.BlackboxOverheadOverGreenlight, "blackbox/greenlight %.1f×"), fmt.Sprintf("≤ %d", goalOverheadP50), met(2))
	row("overhead p99, µs",
		over(r.Greenlight.Overhead, or, "0s", "", true), over(r.Bare.Overhead, or, "0s", "", true), over(bbOver, 0, "0s", bbMeasure, true), na, "", "", "")
	row(fmt.Sprintf("overhead p50, µs, server delay %s", d),
		over(r.Greenlight.Overhead, or, d, "", false), over(r.Bare.Overhead, or, d, "", false), over(bbOver, 0, d, bbMeasure, false), na,
		"", fmt.Sprintf("≤ %d", goalOverheadP50), met(3))
	row(fmt.Sprintf("overhead p99, µs, server delay %s", d),
		over(r.Greenlight.Overhead, or, d, "", true), over(r.Bare.Overhead, or, d, "", true), over(bbOver, 0, d, bbMeasure, true), na, "", "", "")
	row(fmt.Sprintf("overhead p50 / p99, µs, at %.0f/s (cores kept awake)", mr),
		over(r.Greenlight.Overhead, mr, "0s", "", false)+" / "+over(r.Greenlight.Overhead, mr, "0s", "", true),
		over(r.Bare.Overhead, mr, "0s", "", false)+" / "+over(r.Bare.Overhead, mr, "0s", "", true), na, na, "", "", "")
	row("latency p50 / p99 at max load, µs",
		us(mx.Latency.P50)+" / "+us(mx.Latency.P99), us(bareMax.Latency.P50)+" / "+us(bareMax.Latency.P99),
		bbc(func(b *blackboxReport) string { return us(b.Max.Duration.P50) + " / " + us(b.Max.Duration.P99) }),
		rawc(func(x *rawResult) string { return us(x.P50Micros) + " / " + us(x.P99Micros) }), "", "", "")
	row("runs skipped at max load: overlap / rate limit",
		fmt.Sprintf("%d / %d (%.0f%% of runs due)", mx.SkippedOverlap, mx.SkippedRateLimit,
			100*float64(mx.SkippedOverlap+mx.SkippedRateLimit)/(mx.Offered/2*mx.Seconds)),
		"ticks dropped, not counted",
		bbc(func(b *blackboxReport) string { return fmt.Sprintf("%d failed", b.Max.Failed) }), na, "", "", "")
	row("load at max",
		fmt.Sprintf("%d monitors every %gms", mx.Monitors, mx.EveryMillis),
		fmt.Sprintf("%d workers every %gms", bareMax.Monitors, bareMax.EveryMillis),
		bbc(func(b *blackboxReport) string { return fmt.Sprintf("%d concurrent /probe", b.Max.Concurrency) }),
		rawc(func(x *rawResult) string { return x.Args }), "", "", "")
	row("connections to the target", "kept alive", "kept alive", "new per probe", "kept alive", "", "", "")
	_ = tw.Flush()
}

func (r *report) printDetails(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "greenlight CPU per probe: probebench's own CPU (engine, metrics, pair reader; target excluded) / completed probes; jitter %.0f%% of every\n", 100*r.Machine.Jitter)
	fmt.Fprintln(tw, "probes/s\tmonitors × every\tcompleted/s\tCPU µs/probe median (min–max)\tprobebench cores\ttarget CPU µs/req\tlatency p50 / p99 µs")
	for _, c := range r.Greenlight.CPU {
		x := c.mid()
		fmt.Fprintf(tw, "%s\t%d × %gms\t%s\t%s (%s–%s)\t%.2f\t%s\t%s / %s\n",
			thousands(c.Rate), x.Monitors, x.EveryMillis, thousands(x.PerSec), us1(c.CPUMicros), us1(c.MinMicros), us1(c.MaxMicros),
			x.Cores, us1(x.ServerCPUMicros), us(x.Latency.P50), us(x.Latency.P99))
	}
	if c := r.Bare.CPU; c != nil {
		x := c.mid()
		fmt.Fprintf(tw, "%s bare\t%d × %gms\t%s\t%s (%s–%s)\t%.2f\t%s\t%s / %s\n",
			thousands(c.Rate), x.Monitors, x.EveryMillis, thousands(x.PerSec), us1(c.CPUMicros), us1(c.MinMicros), us1(c.MaxMicros),
			x.Cores, us1(x.ServerCPUMicros), us(x.Latency.P50), us(x.Latency.P99))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintf(tw, "greenlight saturation sweep (each monitor: at most one run in flight, two probes per run, jitter %.0f%% of every)\n", 100*r.Machine.Jitter)
	fmt.Fprintln(tw, "monitors\toffered/s\tcompleted/s\tskipped overlap / ratelimit\tfailed\tCPU µs/probe\tlatency p50 / p99 µs\tcores: probebench / target / whole machine")
	rows := r.Greenlight.Sweep
	if r.Bare.AtMax != nil {
		rows = append(rows[:len(rows):len(rows)], r.Bare.AtMax)
	}
	if r.Greenlight.Aligned != nil {
		rows = append(rows[:len(rows):len(rows)], r.Greenlight.Aligned)
	}
	if r.Greenlight.Profiled != nil {
		rows = append(rows[:len(rows):len(rows)], r.Greenlight.Profiled)
	}
	for _, x := range rows {
		mark := ""
		switch x {
		case r.Greenlight.Max:
			mark = " (max)"
		case r.Bare.AtMax:
			mark = " bare net/http"
		case r.Greenlight.Aligned:
			mark = " no jitter"
		case r.Greenlight.Profiled:
			mark = " (profiled)"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\t%d / %d\t%d\t%s\t%s / %s\t%.2f / %.2f / %.2f\n",
			x.Monitors, mark, thousands(x.Offered), thousands(x.PerSec), x.SkippedOverlap, x.SkippedRateLimit, x.Failed,
			us1(x.CPUMicros), us(x.Latency.P50), us(x.Latency.P99), x.Cores, x.ServerCores, x.MachineCores)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintln(tw, "measurement overhead: prober's figure − target's own timing of the same request (handler entry to after the flushed write)")
	fmt.Fprintln(tw, "prober\tprobes/s\tdelay\tfigure\tmatched\tmeasured p50\tserver p50\toverhead min / p50 / p90 / p99 µs")
	all := append(r.Greenlight.Overhead[:len(r.Greenlight.Overhead):len(r.Greenlight.Overhead)], r.Bare.Overhead...)
	if r.Blackbox != nil {
		all = append(all[:len(all):len(all)], r.Blackbox.Overhead...)
	}
	for _, o := range all {
		rate := "sequential"
		if o.Rate > 0 {
			rate = thousands(o.Rate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s / %s / %s / %s\n",
			o.Prober, rate, o.Delay, o.Measure, o.Matched, o.Matched+o.Unmatched, us(o.Measured.P50), us(o.Server.P50),
			us(o.Overhead.Min), us(o.Overhead.P50), us(o.Overhead.P90), us(o.Overhead.P99))
	}
	_ = tw.Flush()
	for _, o := range r.Greenlight.Overhead {
		fmt.Fprintf(w, "  greenlight at %s/s, delay %s: %d of %d pair latencies (synthetic.Probe.Latency) equal a traced step's latency\n",
			thousands(o.Rate), o.Delay, o.PairsFound, o.PairsChecked)
	}
	fmt.Fprintln(w)

	if len(r.Greenlight.AA) > 0 {
		r.printAA(w)
	}
	if b := r.Blackbox; b != nil {
		fmt.Fprintln(tw, "blackbox_exporter: /probe?module=http_2xx asked by probebench; exporter CPU from /proc; a new connection per probe")
		fmt.Fprintln(tw, "load\tprobes/s\texporter CPU µs/probe\texporter cores\tdriver CPU µs/probe\ttarget CPU µs/req\tprobe_duration p50 / p99 µs\tmachine cores\tfailed")
		loads := append([]*loadResult{b.Sequential, b.Delayed}, b.Loads...)
		for i, x := range loads {
			name := fmt.Sprintf("%d concurrent", x.Concurrency)
			switch i {
			case 0:
				name = "sequential"
			case 1:
				name = "sequential, " + r.Machine.Delay + " delay"
			}
			if x == b.Max {
				name += " (max)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%s\t%s / %s\t%.2f\t%d\n",
				name, thousands(x.PerSec), us1(x.CPUMicros), x.Cores, us1(x.DriverCPUMicros), us1(x.ServerCPUMicros),
				us(x.Duration.P50), us(x.Duration.P99), x.MachineCores, x.Failed)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	if x := r.Raw; x != nil {
		fmt.Fprintf(w, "%s %s: %s requests/s, latency p50 %s / p99 %s µs, %s CPU µs/request %s, target CPU µs/request %s, %d requests, machine cores %.2f\n",
			x.Tool, x.Args, thousands(x.PerSec), us(x.P50Micros), us(x.P99Micros), x.Tool, us1(x.CPUMicros), us1(x.ServerCPUMicros), x.ServerRequests, x.MachineCores)
		fmt.Fprintln(w)
	}
	var missed []string
	for _, g := range r.Goals {
		if !g.Met {
			missed = append(missed, fmt.Sprintf("%s: %.1f (goal %s)", g.Name, g.Got, g.Want))
		}
	}
	if len(missed) == 0 {
		fmt.Fprintln(w, "goals: all met")
	} else {
		fmt.Fprintln(w, "goals missed: "+strings.Join(missed, "; "))
	}
}

// us formats microseconds without decimals; us1 with one.
func us(v float64) string  { return fmt.Sprintf("%.0f", v) }
func us1(v float64) string { return fmt.Sprintf("%.1f", v) }

// thousands formats a count with thin separators: 21,345.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// printAA prints the A/A runs: candidate/baseline ratios on two identical targets.
func (r *report) printAA(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "A/A: the engine probing two identical targets (blue baseline, green candidate); every ratio is candidate/baseline and 1 is no bias")
	fmt.Fprintln(tw, "order\tpairs\tbaseline first\tp50 µs base / cand\tp50 ratio\tp95 ratio\tmedian pair ratio\tbalanced pair ratio\tfirst side faster\tshift check\tp50 check")
	ratio := func(v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.3f", v)
	}
	for _, a := range r.Greenlight.AA {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s / %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			a.Order, a.Pairs, a.BaselineFirst, us(a.Baseline.P50), us(a.Candidate.P50), ratio(a.P50Ratio), ratio(a.P95Ratio),
			ratio(a.PairRatio), ratio(a.BalancedRatio), ratio(a.OrderEffect), a.ShiftState, a.LatencyState)
	}
	_ = tw.Flush()
	for _, a := range r.Greenlight.AA {
		fmt.Fprintf(w, "  %s: %s; %s\n", a.Order, a.Shift, a.Latency)
	}
	fmt.Fprintln(w)
}
