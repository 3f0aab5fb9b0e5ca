package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

// measureCPU measures the engine's CPU per probe at each rate, and the bare client's at the
// main rate, in interleaved rounds so that a noisy moment does not hit one rate only.
func measureCPU(ctx context.Context, cfg *config, e *engine, b *bare, rep *report) error {
	say("greenlight: CPU per probe at %v probes/s, net/http (bare) at %.0f, %d× %s each", cfg.rates, cfg.mainRate, cfg.cpuRepeat, cfg.cpuDur)
	rep.Greenlight.CPU = make([]*cpuRate, len(cfg.rates))
	for i, r := range cfg.rates {
		rep.Greenlight.CPU[i] = &cpuRate{Rate: r}
	}
	for round := range cfg.cpuRepeat {
		for k := range cfg.rates { // each round starts one rate further on
			cr := rep.Greenlight.CPU[(k+round)%len(cfg.rates)]
			res, err := e.run(ctx, cfg.rateSpec(cr.Rate, cfg.cpuDur))
			if err != nil {
				return err
			}
			cr.Runs = append(cr.Runs, res)
		}
		res, _, err := b.run(ctx, cfg.rateSpec(cfg.mainRate, cfg.cpuDur), false)
		if err != nil {
			return err
		}
		rep.Bare.CPU.Runs = append(rep.Bare.CPU.Runs, res)
	}
	for _, cr := range rep.Greenlight.CPU {
		cr.summarise()
	}
	rep.Bare.CPU.summarise()
	return nil
}

// measureMax adds monitors until the completed probes/s stop growing, then measures the bare
// client with as many workers, the same monitors without jitter, and a CPU profile.
func measureMax(ctx context.Context, cfg *config, e *engine, b *bare, rep *report) error {
	say("greenlight: saturation sweep over %v monitors every %s (jitter %.0f%% of it), %s each", cfg.sweep, cfg.sweepEvery, 100*cfg.jitter, cfg.sweepDur)
	declines := 0
	for _, m := range cfg.sweep {
		res, err := e.run(ctx, cfg.spec(m, cfg.sweepEvery, cfg.sweepDur))
		if err != nil {
			return err
		}
		say("  %d monitors: %.0f probes/s offered, %.0f completed, %.2f cores here, %.2f busy in all",
			m, res.Offered, res.PerSec, res.Cores, res.MachineCores)
		rep.Greenlight.Sweep = append(rep.Greenlight.Sweep, res)
		if best := rep.Greenlight.Max; best == nil || res.PerSec > best.PerSec {
			rep.Greenlight.Max, declines = res, 0
		} else if declines++; declines == 2 {
			break // past the peak twice: more monitors only add overlap
		}
	}
	maxMonitors := rep.Greenlight.Max.Monitors
	say("net/http (bare): %d workers every %s, %s", maxMonitors, cfg.sweepEvery, cfg.sweepDur)
	var err error
	rep.Bare.AtMax, _, err = b.run(ctx, cfg.spec(maxMonitors, cfg.sweepEvery, cfg.sweepDur), false)
	if err != nil {
		return err
	}
	if cfg.jitter > 0 {
		say("greenlight: %d monitors without jitter (all due at the same instant), %s", maxMonitors, cfg.sweepDur)
		aligned := cfg.spec(maxMonitors, cfg.sweepEvery, cfg.sweepDur)
		aligned.jitter = 0
		if rep.Greenlight.Aligned, err = e.run(ctx, aligned); err != nil {
			return err
		}
	}
	if cfg.cpuprofile != "" {
		say("greenlight: CPU profile at %d monitors for %s", maxMonitors, cfg.profileDur)
		ps := cfg.spec(maxMonitors, cfg.sweepEvery, cfg.profileDur)
		ps.profile = cfg.cpuprofile
		res, err := e.run(ctx, ps)
		if err != nil {
			return err
		}
		rep.Greenlight.Profiled = res
	}
	return nil
}

// measureOverhead compares measured latencies with the target's own timings: at a modest rate
// with and without the target's delay, and at the main rate.
func measureOverhead(ctx context.Context, cfg *config, e *engine, b *bare, rep *report) error {
	for _, c := range []struct {
		rate  float64
		delay time.Duration
	}{{cfg.overheadRate, 0}, {cfg.overheadRate, cfg.delay}, {cfg.mainRate, 0}} {
		say("greenlight, net/http (bare): overhead at %.0f probes/s, target delay %s", c.rate, c.delay)
		s := cfg.rateSpec(c.rate, cfg.overheadDur)
		if c.rate <= 200 {
			s.jitter = 0 // one monitor: nothing to spread
		}
		o, err := e.overhead(ctx, s, c.delay)
		if err != nil {
			return err
		}
		rep.Greenlight.Overhead = append(rep.Greenlight.Overhead, o)
		if o, err = b.overhead(ctx, s, c.delay); err != nil {
			return err
		}
		rep.Bare.Overhead = append(rep.Bare.Overhead, o)
	}
	return nil
}

// measureBlackbox starts blackbox_exporter and measures it: sequential probes with and without
// the target's delay (CPU and overhead), then concurrent ones for its most probes/s.
func measureBlackbox(ctx context.Context, cfg *config, srv *target.Client) (*blackboxReport, error) {
	bin, err := exec.LookPath(cfg.blackbox)
	if err != nil {
		return nil, fmt.Errorf("blackbox_exporter: %w (install Debian's prometheus-blackbox-exporter, or pass -blackbox '')", err)
	}
	say("blackbox_exporter: starting %s", bin)
	b, err := startBlackbox(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer b.close()
	rep := &blackboxReport{Version: b.version}
	base := cfg.targets[0]
	if _, _, err := b.load(ctx, srv, base, 1, 50, 10*time.Second, 0, false); err != nil { // warm-up
		return nil, err
	}
	say("blackbox_exporter: %d sequential probes, then %d with target delay %s", cfg.bbN, cfg.bbN/2, cfg.delay)
	for _, d := range []time.Duration{0, cfg.delay} {
		n := cfg.bbN
		if d > 0 {
			n = max(1, n/2)
		}
		load, ov, err := b.overhead(ctx, srv, base, n, d)
		if err != nil {
			return nil, err
		}
		if d == 0 {
			rep.Sequential = load
		} else {
			rep.Delayed = load
		}
		rep.Overhead = append(rep.Overhead, ov...)
	}
	rep.Max = rep.Sequential
	for _, c := range cfg.bbConc {
		say("blackbox_exporter: %d concurrent for %s", c, cfg.bbDur)
		load, _, err := b.load(ctx, srv, base, c, math.MaxInt32, cfg.bbDur, 0, false)
		if err != nil {
			return nil, err
		}
		rep.Loads = append(rep.Loads, load)
		if load.PerSec > rep.Max.PerSec {
			rep.Max = load
		}
	}
	return rep, nil
}
