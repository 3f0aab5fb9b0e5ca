package synthetic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlight/greenlight/smoke"
)

// Options are what Run needs besides the monitors.
type Options struct {
	Runner    *smoke.Runner // shared with other suites of the process, for its kept-alive connections
	Baseline  Target        // Role may be left empty; it is Baseline here
	Candidate Target        // Role may be left empty; it is Candidate here
	Metrics   *Metrics      // may be nil
	Stats     *Stats        // may be nil; counts per monitor, readable while Run goes on
	Logger    *slog.Logger  // may be nil
	// Order is which environment of each pair is launched first: OrderRandom (the zero value)
	// unless a benchmark measures the bias of a fixed order.
	Order Order
	// Delay puts off the first run of every monitor that runs every so often (cron schedules
	// keep their times): an engine starting many analyses at once spreads their probes this
	// way instead of sending them all at the same instant.
	Delay time.Duration
	// HostLimits, when set, caps the requests per second to each host over every Run that
	// shares it, on top of each monitor's own RateLimit (nil: no cap but the monitors').
	HostLimits *HostLimits

	probe probeFunc  // tests replace how one probe runs; nil means Runner.Run
	rng   *rand.Rand // tests seed the coin of OrderRandom; nil means the process's generator
}

// Run schedules every monitor and sends each completed pair to out until ctx is done; it
// returns after every run in flight has finished (it never closes out). All monitors run
// concurrently, each with at most one run in flight.
//
// A pair whose run was cut short by the end of ctx, or that could not be sent before it, is
// dropped. A slow reader of out holds its monitor's run in flight, so later runs of that
// monitor are skipped as overlapping rather than queued.
//
// It returns an error, before anything runs, only for invalid monitors (ErrInvalidMonitor) or
// options (ErrInvalidOptions); otherwise nil once ctx is done.
func Run(ctx context.Context, monitors []Monitor, opts Options, out chan<- Pair) error {
	monitors = slices.Clone(monitors) // the caller may reuse its slice while Run goes on
	p, err := opts.prober(out)
	if err != nil {
		return err
	}
	if err := validateMonitors(monitors, p.targets); err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup // scheduling loops and runs in flight
	now := time.Now()
	type start struct {
		mr    *monitorRun
		sched schedule
		first time.Time
	}
	starts := make([]start, 0, len(monitors))
	hostOf := map[string]string{}
	for name, t := range p.targets {
		hostOf[name] = hostKey(t.URL)
	}
	for i := range monitors {
		m := &monitors[i]
		at := now
		if m.Every > 0 {
			at = now.Add(max(opts.Delay, 0))
		}
		sched, first, err := scheduleOf(m, at)
		if err != nil { // validated above; kept so that a parser change cannot go unnoticed
			return fmt.Errorf("monitor %q: %w: %w", m.Name, ErrInvalidMonitor, err)
		}
		cost := runCost(m, p.baseline.Name, p.candidate.Name)
		starts = append(starts, start{sched: sched, first: first, mr: &monitorRun{
			mon:      m,
			prober:   p,
			limit:    newLimiter(m.rateLimit(), cost),
			hosts:    opts.HostLimits,
			hostOf:   hostOf,
			hostCost: byHost(cost, hostOf),
			order:    launchOrder{p: p},
			out:      out,
			metrics:  opts.Metrics,
			stats:    opts.Stats,
			log:      log.With("monitor", m.Name),
			wg:       &wg,
		}})
	}
	for _, st := range starts {
		opts.Metrics.start(st.mr.mon.Name, p.baseline, p.candidate)
		opts.Stats.update(st.mr.mon.Name, func(*MonitorStats) {})
		wg.Go(func() { loop(ctx, st.sched, st.first, st.mr.due) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// prober checks the options and returns the prober they describe.
func (o *Options) prober(out chan<- Pair) (*prober, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("synthetic options: %w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Runner == nil && o.probe == nil:
		return nil, invalid("no runner")
	case out == nil:
		return nil, invalid("no channel for the pairs")
	}
	b, c := o.Baseline, o.Candidate
	for _, t := range []struct {
		target *Target
		role   Role
	}{{&b, Baseline}, {&c, Candidate}} {
		switch {
		case t.target.Name == "":
			return nil, invalid("the %s environment has no name", t.role)
		case t.target.URL == "":
			return nil, invalid("the %s environment %q has no URL", t.role, t.target.Name)
		case t.target.Role == "":
			t.target.Role = t.role
		case t.target.Role != t.role:
			return nil, invalid("environment %q is given as the %s but has role %q", t.target.Name, t.role, t.target.Role)
		}
	}
	if b.Name == c.Name {
		return nil, invalid("baseline and candidate are both %q: compare two environments", b.Name)
	}
	switch o.Order {
	case OrderRandom, OrderBaselineFirst, OrderCandidateFirst:
	default:
		return nil, invalid("unknown order %q", o.Order)
	}
	probe := o.probe
	if probe == nil {
		probe = o.Runner.Run
	}
	return &prober{
		probe:     probe,
		baseline:  b,
		candidate: c,
		targets:   map[string]smoke.Target{b.Name: b.Target, c.Name: c.Target},
		order:     o.Order,
		coin:      coinOf(o.rng),
	}, nil
}

// validateMonitors reports every invalid monitor, duplicate name, and suite step naming an
// environment that is neither baseline nor candidate.
func validateMonitors(monitors []Monitor, targets map[string]smoke.Target) error {
	var errs []error
	seen := map[string]bool{}
	for i := range monitors {
		m := &monitors[i]
		if err := m.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[m.Name] {
			errs = append(errs, fmt.Errorf("monitor %q: %w: duplicate name", m.Name, ErrInvalidMonitor))
		}
		seen[m.Name] = true
		if err := smoke.CheckTargets(m.Suite, targets); err != nil {
			errs = append(errs, fmt.Errorf("monitor %q: %w: %w", m.Name, ErrInvalidMonitor, err))
		}
	}
	return errors.Join(errs...)
}

// monitorRun is one monitor's state during Run.
type monitorRun struct {
	mon    *Monitor
	prober *prober
	limit  *limiter
	// hosts is the cap shared with other monitors, hostCost one run's requests per host, hostOf
	// the host of each environment.
	hosts    *HostLimits
	hostCost map[string]float64
	hostOf   map[string]string
	order    launchOrder // only the scheduling loop touches it
	out      chan<- Pair
	metrics  *Metrics
	stats    *Stats
	log      *slog.Logger
	wg       *sync.WaitGroup

	running atomic.Bool // a run is in flight
	seq     int64       // runs started; only the scheduling loop touches it
}

// due starts a run unless one is in flight or a rate cap (the monitor's, a host's) forbids it.
// It never blocks.
func (r *monitorRun) due(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if !r.running.CompareAndSwap(false, true) {
		r.skipped(SkipOverlap)
		return
	}
	now := time.Now()
	if !r.limit.take(now) {
		r.running.Store(false)
		r.skipped(SkipRateLimit)
		return
	}
	if !r.hosts.take(now, r.hostCost) {
		r.limit.refund()
		r.running.Store(false)
		r.skipped(SkipHostLimit)
		return
	}
	r.seq++
	seq := r.seq
	first := r.order.next(seq)
	r.stats.update(r.mon.Name, func(s *MonitorStats) { s.Started++ })
	r.wg.Go(func() { r.run(ctx, seq, first) })
}

func (r *monitorRun) skipped(reason string) {
	r.metrics.skip(r.mon.Name, reason)
	r.stats.update(r.mon.Name, func(s *MonitorStats) {
		switch reason {
		case SkipOverlap:
			s.SkippedOverlap++
		case SkipHostLimit:
			s.SkippedHostLimit++
		default:
			s.SkippedRateLimit++
		}
	})
	r.log.Debug("run skipped", "reason", reason)
}

// run is one scheduled run: the shared jitter, both probes, then the pair out.
func (r *monitorRun) run(ctx context.Context, seq int64, first Role) {
	defer r.running.Store(false)
	defer func() {
		if v := recover(); v != nil {
			r.panicked(&recovered{value: v, stack: debug.Stack()}, seq)
		}
	}()
	if !sleep(ctx, r.jitter()) {
		r.interrupted()
		return
	}
	res := r.prober.pair(ctx, r.mon, seq, first, r.log)
	r.limit.debit(res.extra)
	r.hosts.debit(byHost(res.extra, r.hostOf))
	if res.panic != nil {
		r.panicked(res.panic, seq)
		return
	}
	if ctx.Err() != nil {
		r.interrupted()
		return
	}
	select {
	case r.out <- res.pair:
	case <-ctx.Done():
		r.interrupted()
		return
	}
	r.metrics.observe(&res.pair, len(r.mon.Suite.Steps))
	r.stats.update(r.mon.Name, func(s *MonitorStats) { s.Completed++ })
}

func (r *monitorRun) panicked(p *recovered, seq int64) {
	r.stats.update(r.mon.Name, func(s *MonitorStats) { s.Panics++ })
	r.log.Warn("run panicked; pair dropped, monitor continues", "env", p.env, "seq", seq,
		"panic", fmt.Sprint(p.value), "stack", string(p.stack))
}

func (r *monitorRun) interrupted() {
	r.stats.update(r.mon.Name, func(s *MonitorStats) { s.Interrupted++ })
}

// jitter draws this run's delay, shared by both environments.
func (r *monitorRun) jitter() time.Duration {
	if r.mon.Jitter <= 0 {
		return 0
	}
	return rand.N(r.mon.Jitter)
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
