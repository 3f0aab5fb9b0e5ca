package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenlight/greenlight/bench/probe/target"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
)

// engine runs greenlight's own probe engine the way an analysis does: synthetic.Run with
// paired monitors, one shared smoke.Runner (so connections stay alive across runs), Metrics and
// Stats on, and a reader taking every pair off the channel.
type engine struct {
	runner      *smoke.Runner
	blue, green string // base URLs of the two environments (two ports of the target process)
	server      *target.Client
	suites      map[string]*specs.Suite // one-step GET suites by path

	mu     sync.Mutex
	traced []tracedStep // filled through runner.OnStep while a traced run goes on
}

// tracedStep is one step as smoke reported it: its trace id is what the target logs.
type tracedStep struct {
	traceID string
	latency time.Duration
}

// engineSpec is one timed run of the engine.
type engineSpec struct {
	monitors int
	every    time.Duration
	jitter   time.Duration // each monitor's Jitter: spreads the runs over the period
	duration time.Duration
	path     string // the step's URL: /health, or /health?delay=1ms
	trace    bool   // record each step's trace id and latency (for the overhead)
	profile  string // write a CPU profile of the run here
	order    synthetic.Order
	onPair   func(*synthetic.Pair) // called by the reader with every pair (the A/A section)
}

// offered is the probes per second the monitors ask for: two per run, one per environment.
func (s engineSpec) offered() float64 {
	return float64(s.monitors) * 2 * float64(time.Second) / float64(s.every)
}

// engineResult is what one run measured.
type engineResult struct {
	Monitors         int     `json:"monitors"`
	EveryMillis      float64 `json:"every_ms"`
	JitterMillis     float64 `json:"jitter_ms"`
	Path             string  `json:"path"`
	Seconds          float64 `json:"seconds"`
	Offered          float64 `json:"offered_probes_per_s"`
	Probes           int64   `json:"probes"` // completed: two per pair sent
	PerSec           float64 `json:"probes_per_s"`
	Failed           int64   `json:"failed_probes"`
	SkippedOverlap   int64   `json:"skipped_overlap_runs"`
	SkippedRateLimit int64   `json:"skipped_ratelimit_runs"`
	Interrupted      int64   `json:"interrupted_runs"`
	CPUMicros        float64 `json:"cpu_us_per_probe"`          // probebench's CPU per completed probe
	Cores            float64 `json:"cores"`                     // probebench's CPU / wall time
	ServerCPUMicros  float64 `json:"server_cpu_us_per_request"` // the target's CPU per request served
	ServerCores      float64 `json:"server_cores"`
	MachineCores     float64 `json:"machine_busy_cores"` // every process on the machine
	Latency          dist    `json:"latency"`            // Probe.Latency of the completed probes

	latencies []int64 // ns, sorted
}

func newEngine(blue, green string, server *target.Client) *engine {
	return &engine{
		runner: smoke.NewRunner("greenlight-probebench", nil),
		blue:   blue,
		green:  green,
		server: server,
		suites: map[string]*specs.Suite{},
	}
}

// suite returns the one-step GET suite for path, parsed as any spec file is.
func (e *engine) suite(path string) (*specs.Suite, error) {
	if s := e.suites[path]; s != nil {
		return s, nil
	}
	src := fmt.Sprintf(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: probe}
steps:
  - name: health
    http: {url: %q}
    expect: [status == 200]
`, path)
	docs, err := specs.Parse("probe.yaml", []byte(src), specs.LoadOptions{
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		return nil, fmt.Errorf("parse probe suite: %w", err)
	}
	e.suites[path] = docs.Suites[0]
	return docs.Suites[0], nil
}

// run runs the engine for s.duration and measures it.
func (e *engine) run(ctx context.Context, s engineSpec) (*engineResult, error) {
	suite, err := e.suite(s.path)
	if err != nil {
		return nil, err
	}
	mons := make([]synthetic.Monitor, s.monitors)
	for i := range mons {
		mons[i] = synthetic.Monitor{
			Name:   fmt.Sprintf("probe-%03d", i),
			Suite:  suite,
			Every:  s.every,
			Jitter: s.jitter,
			// Twice what the schedule needs, so that only overlap can skip a run.
			RateLimit: 2 * float64(time.Second) / float64(s.every),
		}
	}
	stats := &synthetic.Stats{}
	opts := synthetic.Options{
		Runner:    e.runner,
		Baseline:  synthetic.Target{Target: smoke.Target{Name: "blue", URL: e.blue}},
		Candidate: synthetic.Target{Target: smoke.Target{Name: "green", URL: e.green}},
		Metrics:   synthetic.NewMetrics(prometheus.NewRegistry()),
		Stats:     stats,
		Order:     s.order,
	}
	if s.trace {
		e.traced = e.traced[:0]
		e.runner.OnStep = func(_ *specs.Suite, _ string, r smoke.StepResult) {
			if r.StatusCode == 0 {
				return // no response (cut short at the end of the run): nothing measured
			}
			e.mu.Lock()
			e.traced = append(e.traced, tracedStep{traceID: r.TraceID, latency: r.Latency})
			e.mu.Unlock()
		}
		defer func() { e.runner.OnStep = nil }()
	}

	// The reader does what an analysis's loop does at the least: take each pair off the
	// channel. It keeps the latencies for the percentiles.
	out := make(chan synthetic.Pair, 256)
	expect := int(min(s.offered()*s.duration.Seconds()*1.2+64, 4e6))
	lat := make([]int64, 0, expect)
	var failed int64
	keep := func(p *synthetic.Pair) {
		if s.onPair != nil {
			s.onPair(p)
		}
		for _, pr := range []*synthetic.Probe{&p.Baseline, &p.Candidate} {
			if !pr.OK {
				failed++
				continue
			}
			lat = append(lat, int64(pr.Latency))
		}
	}
	stop, readerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case p := <-out:
				keep(&p)
			case <-stop:
				for {
					select {
					case p := <-out:
						keep(&p)
					default:
						return
					}
				}
			}
		}
	}()

	srv0, err := e.server.Stats(ctx, false)
	if err != nil {
		return nil, err
	}
	if s.profile != "" {
		f, err := os.Create(s.profile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	machine := startMachine()
	runCtx, cancel := context.WithTimeout(ctx, s.duration)
	cpu0, t0 := target.ProcessCPU(), time.Now()
	err = synthetic.Run(runCtx, mons, opts, out)
	close(stop)
	<-readerDone
	wall, cpu := time.Since(t0), target.ProcessCPU()-cpu0
	cancel()
	machineCores := machine.cores()
	if s.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, fmt.Errorf("synthetic run: %w", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	srv1, err := e.server.Stats(ctx, false)
	if err != nil {
		return nil, err
	}

	r := &engineResult{
		Monitors:     s.monitors,
		EveryMillis:  float64(s.every) / float64(time.Millisecond),
		JitterMillis: float64(s.jitter) / float64(time.Millisecond),
		Path:         s.path,
		Seconds:      wall.Seconds(),
		Offered:      s.offered(),
		Failed:       failed,
		MachineCores: machineCores,
	}
	for _, ms := range stats.Snapshot() {
		r.Probes += 2 * ms.Completed
		r.SkippedOverlap += ms.SkippedOverlap
		r.SkippedRateLimit += ms.SkippedRateLimit
		r.Interrupted += ms.Interrupted
	}
	r.PerSec = float64(r.Probes) / wall.Seconds()
	if r.Probes > 0 {
		r.CPUMicros = float64(cpu) / 1e3 / float64(r.Probes)
	}
	r.Cores = cpu.Seconds() / wall.Seconds()
	if n := srv1.Requests - srv0.Requests; n > 0 {
		d := time.Duration(srv1.CPUNanos - srv0.CPUNanos)
		r.ServerCPUMicros = float64(d) / 1e3 / float64(n)
		r.ServerCores = d.Seconds() / wall.Seconds()
	}
	r.Latency = distOf(lat)
	r.latencies = lat
	return r, nil
}

// tracedSteps returns what OnStep saw during the last traced run.
func (e *engine) tracedSteps() []tracedStep {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]tracedStep(nil), e.traced...)
}
