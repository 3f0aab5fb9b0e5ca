package analysis

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// failingSource returns a critical check whose source has failed policy.consecutiveErrors
// times in a row, or nil.
func (r *run) failingSource(checks []*check) *check {
	for _, c := range checks {
		if c.spec.IsCritical() && c.consecutive >= r.a.Policy.ConsecutiveErrors {
			return c
		}
	}
	return nil
}

// sourceFailed ends the analysis undecided, never promoted: a check without data is no evidence.
// A watch that goes blind so ends the same way: it ran too short to confirm the promote, and
// a pipeline told "the watch passed" would tear the baseline down with a regression unseen.
func (r *run) sourceFailed(c *check, elapsed time.Duration) {
	reason := fmt.Sprintf("%s: its source failed %d times in a row (%s) — never promote without evidence", c.spec.Name, c.consecutive, c.srcErr)
	if r.v.Phase == verdict.PhaseWatch || r.v.Decision == verdict.Promote {
		r.v.Watch = elapsed
		r.v.Undecided = true
		r.v.Decision = verdict.Inconclusive
		r.v.Reason += fmt.Sprintf("; the watch went blind after %s: %s", elapsed.Round(time.Second), reason)
		if r.a.Policy.OnInconclusive == "rollback" {
			r.v.Decision = verdict.Rollback
			r.v.Reason += " (policy onInconclusive: rollback)"
		}
		return
	}
	r.v.Undecided = true
	r.v.Decision = verdict.Inconclusive
	r.v.Reason = "inconclusive: " + reason
	if r.a.Policy.OnInconclusive == "rollback" {
		r.v.Decision = verdict.Rollback
		r.v.Reason += " (policy onInconclusive: rollback)"
	}
}

// baselineDownLimit is how long every baseline probe may fail to reach it before the analysis
// ends: there is nothing to compare the candidate with.
const baselineDownLimit = 30 * time.Second

// baselineDown ends the analysis (or the watch) undecided, never promoted: the baseline could
// not be reached by any probe for baselineDownLimit — a wrong URL, colours swapped, the old
// version torn down — so the candidate cannot be compared with it.
func (r *run) baselineDown(elapsed time.Duration) {
	reason := fmt.Sprintf("%s (baseline) unreachable at every probe for %s (%s): nothing to compare %s with — never promote without evidence",
		r.base.Name, (elapsed - r.baseDownFrom).Round(time.Second), strings.Join(r.diagnosis(), "; "), r.cand.Name)
	if r.v.Phase == verdict.PhaseWatch || r.v.Decision == verdict.Promote {
		r.v.Watch = elapsed
		r.v.Reason += fmt.Sprintf("; the watch went blind after %s: %s", elapsed.Round(time.Second), reason)
	} else {
		r.v.Reason = "inconclusive: " + reason
	}
	r.v.Undecided = true
	r.v.Decision = verdict.Inconclusive
	if r.a.Policy.OnInconclusive == "rollback" {
		r.v.Decision = verdict.Rollback
		r.v.Reason += " (policy onInconclusive: rollback)"
	}
}

// decide applies the policy to one tick's results; true when the phase is over.
func (r *run) decide(phase verdict.Phase, results []verdict.CheckResult, elapsed, limit time.Duration) bool {
	d, reason := verdict.Aggregate(results)
	r.v.Phase = phase
	switch {
	case d == verdict.Rollback:
		r.v.Decision, r.v.Reason, r.v.Undecided = verdict.Rollback, reason, false
		if phase == verdict.PhaseWatch {
			r.v.Reason = "regression after promotion: " + reason
			r.v.Watch = elapsed
		}
		return true
	case phase == verdict.PhaseWatch && elapsed >= limit:
		r.v.Watch = elapsed
		r.v.Reason += fmt.Sprintf("; no regression in %s of watching", limit)
		if short := r.shortfall(); short != "" {
			r.watchWithoutEvidence(short)
		}
		var open []string
		for _, c := range results {
			if c.Critical && c.State != compare.Pass {
				open = append(open, c.Name+" "+string(c.State))
			}
		}
		if len(open) > 0 {
			// A watch looks for regressions: a check that neither failed nor passed in it is
			// no regression, but the reason says which ones the watch could not clear.
			r.v.Reason += fmt.Sprintf(" (not cleared in the watch: %s)", strings.Join(open, ", "))
		}
		return true
	case phase == verdict.PhaseWatch:
		return false
	case d == verdict.Promote && elapsed >= r.a.Policy.MinDuration.D() && r.shortfall() == "":
		r.v.Decision, r.v.Reason = verdict.Promote, reason+"; "+r.evidenceSummary()
		return true
	case elapsed >= limit:
		r.inconclusive(results, limit)
		return true
	}
	return false
}

// shortfall says why the candidate has not yet shown, in the data of every critical check,
// that it works: the evidence floor (policy.evidence). Relative checks alone would pass a
// candidate that fails exactly as often as the baseline — both down, say — so a promote also
// needs the candidate's own successes. "" when the floor is met.
func (r *run) shortfall() string {
	ev := r.a.Policy.Evidence
	minOK, maxErr := ev.MinOK(), ev.MaxErrors()
	var out []string
	critical := 0
	for _, c := range r.checks {
		if c.spec.IsCritical() {
			critical++
		}
	}
	if critical == 0 {
		return "no critical check"
	}
	for _, c := range r.checks {
		if !c.spec.IsCritical() || c.spec.TraceShape != nil {
			continue
		}
		e, name := c.ev, c.spec.Name
		switch {
		case e.Observed == 0:
			out = append(out, fmt.Sprintf("%s: no %s traffic seen", name, r.cand.Name))
		case !c.sees:
			// histograms and series: traffic is all they can show
		case minOK > 0 && (e.Succeeded == nil || *e.Succeeded < minOK):
			out = append(out, fmt.Sprintf("%s: %s succeeded %d of %d times (policy.evidence.minSuccesses: %d)", name, r.cand.Name, succeeded(e), e.Observed, minOK))
		case maxErr < 1 && e.ErrorRate() > maxErr:
			out = append(out, fmt.Sprintf("%s: %s failed %s of %d (above policy.evidence.maxErrorRate %s)", name, r.cand.Name, pct(e.ErrorRate()), e.Observed, pct(maxErr)))
		}
	}
	return strings.Join(out, "; ")
}

// evidenceSummary states the floor a promote met, for its reason.
func (r *run) evidenceSummary() string {
	least, worst, seen := int64(-1), 0.0, false
	for _, c := range r.checks {
		if !c.spec.IsCritical() || !c.sees || c.ev.Succeeded == nil {
			continue
		}
		seen = true
		if least < 0 || *c.ev.Succeeded < least {
			least = *c.ev.Succeeded
		}
		worst = max(worst, c.ev.ErrorRate())
	}
	if !seen {
		return fmt.Sprintf("%s had traffic in every critical check (policy.evidence.minSuccesses: 0)", r.cand.Name)
	}
	ev := r.a.Policy.Evidence
	return fmt.Sprintf("%s shown working: at least %d successes and at most %s failed in every critical check (floor: %d, %s)",
		r.cand.Name, least, pct(worst), ev.MinOK(), pct(ev.MaxErrors()))
}

func succeeded(e verdict.Evidence) int64 {
	if e.Succeeded == nil {
		return 0
	}
	return *e.Succeeded
}

// pct formats a proportion as a percentage with up to one decimal.
func pct(p float64) string {
	s := strconv.FormatFloat(p*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// inconclusive maps an undecided analysis by policy.onInconclusive. A promote on no evidence is
// refused: if a critical check has no data on a side, the verdict stays inconclusive.
func (r *run) inconclusive(results []verdict.CheckResult, limit time.Duration) {
	var undecided, empty []string
	for _, c := range results {
		if !c.Critical || c.State == compare.Pass {
			continue
		}
		undecided = append(undecided, c.Name)
		if samples(c) == 0 {
			empty = append(empty, c.Name)
		}
	}
	r.v.Undecided = true
	base := fmt.Sprintf("inconclusive after %s: %s not decided", limit, strings.Join(undecided, ", "))
	if d := r.diagnosis(); len(d) > 0 {
		base += " (" + strings.Join(d, "; ") + ")"
	}
	var noEvidence string
	if len(empty) > 0 {
		noEvidence = fmt.Sprintf("; no data for %s — never promote without evidence", strings.Join(empty, ", "))
	} else if short := r.shortfall(); short != "" {
		if len(undecided) == 0 {
			base = fmt.Sprintf("inconclusive after %s", limit)
		}
		noEvidence = fmt.Sprintf("; no evidence that %s works (%s) — never promote without evidence", r.cand.Name, short)
	}
	switch policy := r.a.Policy.OnInconclusive; {
	case noEvidence != "":
		r.v.Decision = verdict.Inconclusive
		r.v.Reason = base + noEvidence
		if policy == "rollback" {
			r.v.Decision = verdict.Rollback
			r.v.Reason += " (policy onInconclusive: rollback)"
		}
	case policy == "promote":
		r.v.Decision, r.v.Reason = verdict.Promote, base+" (policy onInconclusive: promote)"
	case policy == "hold":
		r.v.Decision, r.v.Reason = verdict.Inconclusive, base+" (policy onInconclusive: hold)"
	default:
		r.v.Decision, r.v.Reason = verdict.Rollback, base+" (policy onInconclusive: rollback)"
	}
}

// reachCount counts one side's probes that could not reach its environment, by reason.
type reachCount struct {
	probes, unreachable int64
	reasons             map[string]int64
}

func (c *reachCount) add(p synthetic.Probe) {
	c.probes++
	if p.Unreachable == "" {
		return
	}
	c.unreachable++
	if c.reasons == nil {
		c.reasons = map[string]int64{}
	}
	c.reasons[p.Unreachable]++
}

// diagnosis names each environment that probes could not reach in this phase, with the most
// common reason: an unreachable environment is said to be one, never left to show as missing
// data or an error rate.
func (r *run) diagnosis() []string {
	var out []string
	for i, env := range []string{r.base.Name, r.cand.Name} {
		c := r.reach[i]
		if c.unreachable == 0 {
			continue
		}
		reason, most := "", int64(0)
		for k, n := range c.reasons {
			if n > most || n == most && k < reason {
				reason, most = k, n
			}
		}
		out = append(out, fmt.Sprintf("%s unreachable: %s, %d of %d probes", env, reason, c.unreachable, c.probes))
	}
	return out
}
