package analysis

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// evaluator is what every compare check offers.
type evaluator interface{ Evaluate() compare.Outcome }

// check is one spec check bound to its compare check and to what feeds it: probes from a
// monitor (feed), or a metric source polled every interval (poll).
type check struct {
	spec *specs.Check
	eval evaluator
	feed func(side compare.Side, p synthetic.Probe) error
	poll func(ctx context.Context, envs [2]source.Env, w source.Window) error
	kind string // the source polled: prometheus, datadog, traces
	// clock, for checks fed by a monitor, is told how long the phase has run, so that their
	// evidence is counted in blocks of time (see compare.Config.Block).
	clock interface{ Advance(time.Duration) }

	// The last source failure and how many polls in a row failed; the last poll's warnings.
	srcErr      string
	consecutive int
	warnings    []string

	// ev is what the check's data showed of the candidate working (the evidence floor); sees
	// is whether that data tells success from failure at all.
	ev   verdict.Evidence
	sees bool

	// state is the state of the last result and since when (the phase's elapsed time) it
	// has held: a decided check's time in reports.
	state compare.State
	since time.Duration
}

// resultAt is the check's result at elapsed, with the time it decided when it has.
func (c *check) resultAt(elapsed time.Duration) verdict.CheckResult {
	r := c.result()
	if r.State != c.state {
		c.state, c.since = r.State, elapsed
	}
	if r.State == compare.Pass || r.State == compare.Fail {
		r.Decided = c.since
	}
	return r
}

// observeCandidate counts one candidate probe toward the evidence floor.
func (c *check) observeCandidate(p synthetic.Probe) {
	ok, _, ran := observe(p, c.spec.Source().Step)
	if !ran {
		return
	}
	c.ev.Observed++
	if c.ev.Succeeded == nil {
		c.ev.Succeeded = new(int64)
	}
	if ok {
		*c.ev.Succeeded++
	}
}

// setCandidateEvidence replaces the evidence with what a source now says of the candidate over
// the whole window: observed, and succeeded when the source can tell (ok < 0 when it cannot).
func (c *check) setCandidateEvidence(observed, ok float64) {
	c.ev = verdict.Evidence{Observed: int64(math.Round(observed))}
	if ok >= 0 {
		n := int64(math.Round(ok))
		c.ev.Succeeded = &n
	}
}

// newChecks builds the compare checks. The false-rollback budget α is shared among the
// critical checks (a rollback happens when any of them fails, so each gets α/k: the union bound
// keeps the analysis-wide rate at α); advisory checks never roll back and each get α. A false
// promote needs every critical check to pass wrongly, so each check's pass gets the whole α.
func newChecks(a *specs.Analysis, names [2]string, srcs *sources) ([]*check, error) {
	var out []*check
	for i, cfg := range checkConfigs(a, names) {
		sc := &a.Checks[i]
		c, err := buildCheck(sc, cfg, srcs)
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", sc.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// checkConfigs returns each check's compare configuration, with its share of the budget.
func checkConfigs(a *specs.Analysis, names [2]string) []compare.Config {
	alpha := a.Policy.FalseRollbackRate.F()
	critical := 0
	for i := range a.Checks {
		if a.Checks[i].IsCritical() {
			critical++
		}
	}
	out := make([]compare.Config, len(a.Checks))
	for i := range a.Checks {
		sc := &a.Checks[i]
		out[i] = compare.Config{Name: sc.Name, Alpha: alpha, PassAlpha: alpha, BaselineName: names[0], CandidateName: names[1]}
		if sc.IsCritical() && critical > 1 {
			out[i].Alpha = alpha / float64(critical)
		}
	}
	return out
}

// buildCheck binds a spec check to its compare check and to what feeds it, through its
// kind's builder: a source's answers when it reads one, else its monitor's probes.
func buildCheck(sc *specs.Check, cfg compare.Config, srcs *sources) (*check, error) {
	k, err := kindOf(sc)
	if err != nil {
		return nil, err
	}
	c := &check{spec: sc, sees: sc.SeesSuccess()}
	if sc.UsesSource() {
		c.kind = sc.SourceKind()
		return c, srcs.bind(c, sc, cfg, k)
	}
	if k.monitor == nil {
		return nil, fmt.Errorf("a %s check cannot read a monitor", sc.Kind())
	}
	return c, k.monitor(c, sc, cfg)
}

// advance tells a monitor-fed check how long the phase has run.
func (c *check) advance(elapsed time.Duration) {
	if c.clock != nil {
		c.clock.Advance(elapsed)
	}
}

// latencies feeds a check the latency of every probe (or step) that got a response.
func latencies(step string, add func(compare.Side, float64) error) func(compare.Side, synthetic.Probe) error {
	return func(side compare.Side, p synthetic.Probe) error {
		if _, lat, ran := observe(p, step); ran && lat > 0 {
			return add(side, lat)
		}
		return nil
	}
}

// observe reads what a check sees of a probe: the whole run (failed if any step failed; latency
// summed over the steps that answered), or one step. ran is false when the step did not run
// (skipped after an earlier failure): it is then no observation at all. A probe or step that got
// no response has latency 0: it counts as an error, never as a fast response.
func observe(p synthetic.Probe, step string) (ok bool, latency float64, ran bool) {
	if step == "" {
		lat := p.Latency.Seconds()
		if !p.OK && allFailedWithoutResponse(p) {
			lat = 0
		}
		return p.OK, lat, true
	}
	for _, s := range p.Steps {
		if s.Name == step {
			if s.StatusCode == 0 {
				return s.OK, 0, true
			}
			return s.OK, s.Latency.Seconds(), true
		}
	}
	return false, 0, false
}

func allFailedWithoutResponse(p synthetic.Probe) bool {
	for _, s := range p.Steps {
		if s.StatusCode != 0 {
			return false
		}
	}
	return true
}

// result turns an outcome into a verdict check result. A source failure makes it undecided,
// whatever the numbers said before: stale data is no evidence.
func (c *check) result() verdict.CheckResult {
	o := c.eval.Evaluate()
	src := "monitor " + c.spec.Source().From
	if s := c.spec.Source().Step; s != "" {
		src += ", step " + s
	}
	if c.poll != nil {
		src = c.kind
	}
	ev := c.ev
	if ev.Succeeded != nil {
		n := *ev.Succeeded
		ev.Succeeded = &n
	}
	r := verdict.CheckResult{Outcome: o, Name: c.spec.Name, Critical: c.spec.IsCritical(), Source: src, Evidence: &ev}
	if len(c.warnings) > 0 {
		r.Warnings = append([]string(nil), c.warnings...)
		r.Reason += " [source warnings: " + strings.Join(c.warnings, "; ") + "]"
	}
	if c.srcErr != "" {
		r.Error = c.srcErr
		r.State = compare.Error
		r.Reason = "no usable data: " + c.srcErr
		if c.consecutive > 0 {
			r.Reason = fmt.Sprintf("source error (%d in a row): %s", c.consecutive, c.srcErr)
		}
	}
	return r
}

// samples is the smaller per-side sample count, for "no data" decisions.
func samples(r verdict.CheckResult) int64 {
	return int64(math.Min(float64(r.Baseline.N), float64(r.Candidate.N)))
}
