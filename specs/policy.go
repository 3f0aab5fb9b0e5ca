package specs

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy governs the run.
type Policy struct {
	MinDuration       Duration `yaml:"minDuration,omitempty" doc:"Never promote before this much monitoring (default 30s)."`
	MaxDuration       Duration `yaml:"maxDuration,omitempty" doc:"Stop here; checks not decided by then make the analysis inconclusive (default 10m)."`
	FalseRollbackRate *Percent `yaml:"falseRollbackRate,omitempty" doc:"Probability of rolling back a healthy candidate over the whole analysis, however often checks are evaluated (default 1%)."`
	OnInconclusive    string   `yaml:"onInconclusive,omitempty" doc:"What an inconclusive analysis becomes: rollback (default), promote, or hold (stay inconclusive, exit 2)."`
	Watch             Duration `yaml:"watch,omitempty" doc:"After promote, keep monitoring this long and turn the verdict into rollback if a regression appears (--watch overrides)."`
	ConsecutiveErrors int      `yaml:"consecutiveErrors,omitempty" doc:"A metric check whose source fails this many times in a row ends the analysis inconclusive, never promoted (default 3)."`
	Evidence          Evidence `yaml:"evidence,omitempty" doc:"The absolute floor under the relative checks: what the candidate must be seen doing before a promote, whatever the baseline does."`
}

// Evidence is the floor a promote needs besides passed relative checks. Relative checks cannot
// tell "both environments fine" from "both equally broken"; these numbers can. Each critical
// check applies them to what its own data shows of the candidate: successful probes, non-error
// spans, requests that did not fail; a check whose data cannot tell success from failure
// (histograms, value series) needs candidate traffic at all.
type Evidence struct {
	MinSuccesses *int64   `yaml:"minSuccesses,omitempty" doc:"Successful candidate observations every critical check that can see success must hold before a promote (default 10; 0 turns the floor off for counts, keeping maxErrorRate)."`
	MaxErrorRate *Percent `yaml:"maxErrorRate,omitempty" doc:"A candidate failing more than this share of what a critical check saw is never promoted, however the baseline fares (default 50%; 100% turns it off)."`
}

// MinOK returns evidence.minSuccesses with its default applied.
func (e Evidence) MinOK() int64 {
	if e.MinSuccesses == nil {
		return DefaultMinSuccesses
	}
	return *e.MinSuccesses
}

// MaxErrors returns evidence.maxErrorRate with its default applied.
func (e Evidence) MaxErrors() float64 {
	if e.MaxErrorRate == nil {
		return DefaultMaxErrorRate
	}
	return e.MaxErrorRate.F()
}

// Percent is a proportion written as a percentage: "1%", "0.5%".
type Percent float64

func (p *Percent) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a percentage")
	if !ok || isNull(n) {
		return
	}
	v, err := parsePercent(s)
	if err != nil {
		d.errorf(n, "%s", err)
		return
	}
	*p = Percent(v)
}

func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, "%") {
		return 0, fmt.Errorf("%q: write a percentage such as 1%% or 0.5%%", s)
	}
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(t, "%"), "%g", &v); err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// F returns the proportion (0.01 for 1%).
func (p Percent) F() float64 { return float64(p) }

func (p Percent) MarshalYAML() (any, error) {
	return fmt.Sprintf("%g%%", float64(p)*100), nil
}

var onInconclusiveValues = map[string]bool{"rollback": true, "promote": true, "hold": true}

func (p *Policy) validate(d *decoder, pos Position) {
	if p.MinDuration != 0 && p.MaxDuration != 0 && p.MinDuration > p.MaxDuration {
		d.errs.add(pos, "policy: minDuration (%s) is longer than maxDuration (%s)", p.MinDuration, p.MaxDuration)
	}
	if p.FalseRollbackRate != nil && !(p.FalseRollbackRate.F() > 0 && p.FalseRollbackRate.F() < 0.5) {
		d.errs.add(pos, "policy: falseRollbackRate must be above 0%% and below 50%%")
	}
	if p.ConsecutiveErrors < 0 {
		d.errs.add(pos, "policy: consecutiveErrors must be at least 1")
	}
	if p.OnInconclusive != "" && !onInconclusiveValues[p.OnInconclusive] {
		d.errs.add(pos, "policy: onInconclusive must be rollback, promote or hold, got %q", p.OnInconclusive)
	}
	if m := p.Evidence.MinSuccesses; m != nil && *m < 0 {
		d.errs.add(pos, "policy: evidence.minSuccesses must be 0 or more, got %d", *m)
	}
}

// validateEvidence refuses analyses that could promote without evidence: every check advisory
// (nothing decisive could ever pass), or no critical check able to see the candidate succeed
// while the evidence floor is on.
func (a *Analysis) validateEvidence(d *decoder, pos Position) {
	if len(a.Checks) == 0 {
		return // reported already
	}
	critical, seeing := 0, 0
	for i := range a.Checks {
		if c := &a.Checks[i]; c.IsCritical() {
			critical++
			if c.SeesSuccess() {
				seeing++
			}
		}
	}
	switch {
	case critical == 0:
		d.errs.add(pos, "analysis %q has no critical check: advisory checks never decide, so nothing could justify a promote (make one check critical: true)", a.Metadata.Name)
	case seeing == 0 && a.Policy.Evidence.MinOK() != 0:
		d.errs.add(pos, "analysis %q: no critical check can see %s succeed (latency histograms, value series and trace shapes show traffic, not success), so a promote would rest on no evidence that it works; add a critical errorRate check, or a check from a monitor or from traces (or set policy.evidence.minSuccesses: 0 to accept traffic alone)", a.Metadata.Name, roleName(a.Candidate, "the candidate"))
	}
}

func roleName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}
