// Command enginebench measures the analysis Engine at scale: it starts N analyses on one Engine
// — one monitor probing blue and green once a second each, an error-rate and a p95 check —
// against target servers in a child process on loopback, lets them run, and reports the
// process's resident memory, its CPU use, and how late the analyses' evaluations ran after
// their ticks were due (the run loop's tick lag, p50/p99/max), read from the analyses' own
// event streams.
//
//	go run ./bench/engine -n 500 -warmup 15s -measure 60s
//
// Goals (issue: one engine for many analyses): 500 analyses in ≤ 300 MiB RSS with tick lag
// p99 ≤ 50 ms. See bench/engine/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/greenlight/greenlight/bench/internal/proc"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
)

type figures struct {
	Analyses     int     `json:"analyses"`
	MeasureS     float64 `json:"measureSeconds"`
	RSSMiB       float64 `json:"rssMiB"`     // peak resident set seen while measuring
	HeapMiB      float64 `json:"heapMiB"`    // Go heap in use at the end
	CPUPercent   float64 `json:"cpuPercent"` // of one core, user+system, over the window
	Goroutines   int     `json:"goroutines"`
	Ticks        int     `json:"ticks"`
	LagP50Ms     float64 `json:"tickLagP50Ms"`
	LagP99Ms     float64 `json:"tickLagP99Ms"`
	LagMaxMs     float64 `json:"tickLagMaxMs"`
	ProbesPerSec float64 `json:"probesPerSecond"` // pairs × 2 across all analyses
	Skipped      uint64  `json:"eventsSkipped"`
}

var memProfile string

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == proc.TargetsFlag {
		proc.ServeTargets()
		return
	}
	n := flag.Int("n", 500, "analyses to run at once")
	warmup := flag.Duration("warmup", 15*time.Second, "time to let every analysis start before measuring")
	measure := flag.Duration("measure", 60*time.Second, "measurement window")
	asJSON := flag.Bool("json", false, "print the figures as JSON")
	flag.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file at the end of the measurement")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			pf.Close()
		}()
	}

	blue, green, stop := proc.StartTargets()
	defer stop()
	f, err := run(*n, blue, green, *warmup, *measure)
	if err != nil {
		log.Fatal(err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(f)
		return
	}
	fmt.Printf("enginebench: %d analyses on one Engine, 1 probe/s per environment each, measured over %.0fs\n\n", f.Analyses, f.MeasureS)
	fmt.Printf("  %-28s %10.1f MiB   (goal ≤ 300 MiB)\n", "resident memory (peak)", f.RSSMiB)
	fmt.Printf("  %-28s %10.1f MiB\n", "Go heap in use", f.HeapMiB)
	fmt.Printf("  %-28s %10.1f %%    of one core\n", "CPU", f.CPUPercent)
	fmt.Printf("  %-28s %10d\n", "goroutines", f.Goroutines)
	fmt.Printf("  %-28s %10.0f /s\n", "probes", f.ProbesPerSec)
	fmt.Printf("  %-28s %10.2f ms   (p50 %.2f ms, max %.2f ms; goal p99 ≤ 50 ms; %d ticks)\n", "tick lag p99", f.LagP99Ms, f.LagP50Ms, f.LagMaxMs, f.Ticks)
	fmt.Printf("  %-28s %10d\n", "events skipped", f.Skipped)
}

const spec = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: bench}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 1s, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 1%}}
  - {name: p95, latency: {from: m, percentile: 95, maxRatio: 1.2}}
policy: {minDuration: 24h, maxDuration: 48h}
`

func run(n int, blue, green string, warmup, measure time.Duration) (figures, error) {
	opts := specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}
	docs, err := specs.Parse("bench.yaml", []byte(spec), opts)
	if err != nil {
		return figures{}, err
	}
	if err := docs.Link(opts); err != nil {
		return figures{}, err
	}
	a := docs.Analyses[0]
	// Every analysis probes the same two loopback targets: the Engine's per-host cap (100
	// requests a second by default) would skip most runs, and the bench measures the engine
	// under the full load, so it caps nothing.
	e := analysis.NewEngine(analysis.EngineOptions{Runner: smoke.NewRunner("enginebench", nil),
		HostLimits: synthetic.NewHostLimits(0), Stagger: true})
	defer e.Shutdown(context.Background())

	var (
		mu        sync.Mutex
		measuring bool
		lags      []time.Duration
		skipped   uint64
		pairs     int64
	)
	var wg sync.WaitGroup
	for range n {
		p, err := analysis.Compile(analysis.Options{Analysis: a, Envs: map[string]string{"blue": blue, "green": green}})
		if err != nil {
			return figures{}, err
		}
		id, _, err := e.Start(p, analysis.StartOptions{})
		if err != nil {
			return figures{}, err
		}
		sub, err := e.Subscribe(id, 0)
		if err != nil {
			return figures{}, err
		}
		wg.Go(func() {
			defer sub.Close()
			var lastN int64
			for {
				ev, sk, err := sub.Next(context.Background())
				if err != nil {
					return
				}
				if ev.Kind != analysis.EventTick {
					continue
				}
				var n int64
				if len(ev.Checks) > 0 {
					n = ev.Checks[0].Candidate.N
				}
				mu.Lock()
				skipped += sk
				if measuring {
					lags = append(lags, ev.Lag)
					pairs += n - lastN
				}
				mu.Unlock()
				lastN = n
			}
		})
	}
	time.Sleep(warmup)
	mu.Lock()
	measuring = true
	mu.Unlock()
	cpu0 := proc.CPUTime()
	start := time.Now()
	var peak float64
	for time.Since(start) < measure {
		time.Sleep(time.Second)
		peak = max(peak, proc.RSSMiB())
	}
	elapsed := time.Since(start)
	cpu := proc.CPUTime() - cpu0
	mu.Lock()
	measuring = false
	got := slices.Clone(lags)
	f := figures{Analyses: n, MeasureS: elapsed.Seconds(), RSSMiB: peak, CPUPercent: 100 * cpu.Seconds() / elapsed.Seconds(),
		Goroutines: runtime.NumGoroutine(), Ticks: len(got), Skipped: skipped, ProbesPerSec: 2 * float64(pairs) / elapsed.Seconds()}
	mu.Unlock()
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return figures{}, err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	slices.Sort(got)
	if len(got) > 0 {
		q := func(p float64) float64 { return float64(got[int(p*float64(len(got)-1))]) / 1e6 }
		f.LagP50Ms, f.LagP99Ms, f.LagMaxMs = q(0.5), q(0.99), float64(got[len(got)-1])/1e6
	}
	_ = e.Shutdown(context.Background())
	wg.Wait()
	return f, nil
}
