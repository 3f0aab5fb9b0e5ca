package analysis

import (
	"fmt"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
)

// checkKind builds one kind of check. checkKinds is the one place this package names a check
// kind (TestCheckKindsMatchSpecs holds its keys equal to specs.CheckKinds): which compare check
// the kind becomes and with which configuration is decided once per kind (newErrorRate,
// newLatency, newShift) and used alike for a monitor's probes, for a source's answers and for
// the plan's simulation, so the three cannot disagree.
type checkKind struct {
	// monitor binds a check fed by a monitor's probes; nil when the kind reads only sources.
	monitor func(c *check, sc *specs.Check, cfg compare.Config) error
	// source binds a check to a source and the query the source compiled for it (see
	// sources.bind); nil when the kind reads only monitors.
	source func(c *check, sc *specs.Check, cfg compare.Config, src source.Source, q source.Query) error
	// simulate returns how the plan builds the kind's judge, fed probes (fromSource false) or
	// a source's counts; a note instead when the plan cannot simulate it. Nil: never simulated.
	simulate func(sc *specs.Check, cfg compare.Config, fromSource bool) (build func() (simJudge, error), note string)
}

var checkKinds = map[string]checkKind{
	"errorRate":  {monitor: monitorErrorRate, source: bindErrorRate, simulate: simulateErrorRate},
	"latency":    {monitor: monitorLatency, source: bindLatency, simulate: simulateLatency},
	"shift":      {monitor: monitorShift, simulate: simulateShift},
	"values":     {source: bindValues},
	"traceShape": {source: bindTraceShape},
}

// kindOf returns the builder of a check's kind.
func kindOf(sc *specs.Check) (checkKind, error) {
	k, ok := checkKinds[sc.Kind()]
	if !ok {
		return checkKind{}, fmt.Errorf("this build of greenlight cannot run a %q check", sc.Kind())
	}
	return k, nil
}

// monitorConfig is a check's configuration when a monitor feeds it: its probes arrive one pair
// at a time, so their evidence is counted in blocks of time.
func monitorConfig(cfg compare.Config, fromMonitor bool) compare.Config {
	if fromMonitor {
		cfg.Block = compare.DefaultBlock
	}
	return cfg
}

// newErrorRate is an errorRate check's compare check.
func newErrorRate(sc *specs.Check, cfg compare.Config, fromMonitor bool) (*compare.ErrorRate, error) {
	cfg = monitorConfig(cfg, fromMonitor)
	cfg.MinSamples = sc.ErrorRate.MinSamples
	return compare.NewErrorRate(cfg, errorRateThreshold(sc.ErrorRate))
}

// newLatency is a latency check's compare check on raw latencies (probes, span durations).
func newLatency(sc *specs.Check, cfg compare.Config, fromMonitor bool) (*compare.Latency, error) {
	l := sc.Latency
	cfg = monitorConfig(cfg, fromMonitor)
	cfg.MinSamples = l.MinSamples
	return compare.NewLatency(cfg, l.Percentile, latencyThreshold(l))
}

// newShift is a shift check's compare check.
func newShift(sc *specs.Check, cfg compare.Config) (*compare.Shift, error) {
	sh := sc.Shift
	cfg = monitorConfig(cfg, true)
	cfg.MinSamples = sh.MinSamples
	return compare.NewShift(cfg, sh.MaxProbability, compare.Direction(sh.Direction))
}

func errorRateThreshold(e *specs.ErrorRateCheck) compare.Threshold {
	t := compare.Threshold{MaxRatio: e.MaxRatio}
	if e.MaxIncrease != nil {
		t.MaxIncrease = compare.F(e.MaxIncrease.F())
	}
	if e.Max != nil {
		t.Max = compare.F(e.Max.F())
	}
	return t
}

func latencyThreshold(l *specs.LatencyCheck) compare.Threshold {
	t := compare.Threshold{MaxRatio: l.MaxRatio, Direction: compare.Direction(l.Direction)}
	if l.MaxIncrease != nil {
		t.MaxIncrease = compare.F(l.MaxIncrease.D().Seconds())
	}
	if l.Max != nil {
		t.Max = compare.F(l.Max.D().Seconds())
	}
	return t
}

func monitorErrorRate(c *check, sc *specs.Check, cfg compare.Config) error {
	er, err := newErrorRate(sc, cfg, true)
	if err != nil {
		return err
	}
	step := sc.Source().Step
	c.eval, c.clock = er, er
	c.feed = func(side compare.Side, p synthetic.Probe) error {
		if ok, _, ran := observe(p, step); ran {
			er.Add(side, !ok)
		}
		return nil
	}
	return nil
}

func monitorLatency(c *check, sc *specs.Check, cfg compare.Config) error {
	lc, err := newLatency(sc, cfg, true)
	if err != nil {
		return err
	}
	c.eval, c.feed, c.clock = lc, latencies(sc.Source().Step, lc.Add), lc
	return nil
}

func monitorShift(c *check, sc *specs.Check, cfg compare.Config) error {
	sh, err := newShift(sc, cfg)
	if err != nil {
		return err
	}
	c.eval, c.feed = sh, latencies(sc.Source().Step, sh.Add)
	return nil
}

func simulateErrorRate(sc *specs.Check, cfg compare.Config, fromSource bool) (func() (simJudge, error), string) {
	return func() (simJudge, error) { return newErrorRate(sc, cfg, !fromSource) }, ""
}

func simulateLatency(sc *specs.Check, cfg compare.Config, fromSource bool) (func() (simJudge, error), string) {
	if sc.Latency.Prometheus != nil {
		return nil, "not simulated: a histogram check is bounded by its buckets (see the load warnings)"
	}
	return func() (simJudge, error) { return newLatency(sc, cfg, !fromSource) }, ""
}

func simulateShift(sc *specs.Check, cfg compare.Config, _ bool) (func() (simJudge, error), string) {
	return func() (simJudge, error) { return newShift(sc, cfg) }, ""
}
