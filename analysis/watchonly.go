package analysis

import (
	"fmt"
	"time"

	"github.com/greenlight/greenlight/verdict"
)

// checkWatchOnly refuses a watch-only run that would not watch at all.
func (o Options) checkWatchOnly() error {
	if !o.WatchOnly {
		return nil
	}
	w := o.Watch
	if w == 0 {
		w = o.Analysis.Policy.Watch.D()
	}
	if w <= 0 {
		return fmt.Errorf("%w: a watch needs a duration: give one (greenlight watch --for 30m) or set policy.watch", ErrInvalid)
	}
	return nil
}

// promotedBefore starts a watch-only run: the candidate was promoted by whoever switched the
// traffic, before this run, so the watch has a promote to watch over from its first moment.
func (r *run) promotedBefore() {
	r.v.Phase, r.v.Decision = verdict.PhaseWatch, verdict.Promote
	r.v.PromotedAt = r.started
	r.v.Reason = fmt.Sprintf("%s was promoted before this watch began", r.cand.Name)
}

// promotedEvent is the verdict as it stands at promote, for the event that starts the watch:
// callers write their reports with it, so a pipeline killed during the watch still holds the
// promote it can act on.
func (r *run) promotedEvent(limit time.Duration) *verdict.Verdict {
	v := cloneVerdict(r.v)
	v.Duration = time.Since(r.started)
	v.Reason += fmt.Sprintf("; watching %s for %s (not over when this was written)", r.cand.Name, limit)
	v.Redact(r.redact.Redact)
	return v
}

// watchWithoutEvidence ends a watch that found no regression but no evidence either that the
// candidate works (it failed every probe, say, where the relative checks could not decide):
// the promote is not confirmed — never promote without evidence — and, as at the end of an
// analysis without evidence, it is inconclusive, or a rollback with policy.onInconclusive:
// rollback (the default).
func (r *run) watchWithoutEvidence(short string) {
	r.v.Undecided = true
	r.v.Decision = verdict.Inconclusive
	r.v.Reason += "; but no evidence that " + r.cand.Name + " works: " + short + " — never promote without evidence"
	if r.a.Policy.OnInconclusive == "rollback" {
		r.v.Decision = verdict.Rollback
		r.v.Reason += " (policy onInconclusive: rollback)"
	}
}
