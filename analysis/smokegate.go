package analysis

import (
	"context"
	"fmt"
	"sync"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// smokeGate runs the smoke suites on the candidate; a failure decides the analysis at once.
func (r *run) smokeGate(ctx context.Context) (decided bool) {
	r.emit(Event{Kind: EventPhase, Phase: verdict.PhaseSmoke, Message: fmt.Sprintf("smoke-testing %s", r.cand.Name)})
	runner := r.o.Runner
	var mu sync.Mutex
	ctx = smoke.WithStepObserver(ctx, func(s *specs.Suite, env string, st smoke.StepResult) {
		mu.Lock()
		defer mu.Unlock()
		r.emit(Event{Kind: EventSmokeStep, Phase: verdict.PhaseSmoke, Suite: s.Metadata.Name, Env: env, Step: &st})
	})

	var results []*smoke.SuiteResult
	for _, s := range r.a.SmokeSuites {
		res := runner.Run(ctx, s, r.cand.Name, r.targets)
		results = append(results, res)
		if !res.Passed() {
			break
		}
	}
	r.v.Smoke = SmokeReport(r.started, results)
	for _, res := range results {
		if res.Passed() {
			continue
		}
		r.v.Phase = verdict.PhaseSmoke
		r.v.Decision = verdict.Rollback
		r.v.Reason = "smoke failed on " + r.cand.Name + ": " + smokeFailure(res)
		r.smokeDone(results, r.v.Reason)
		return true
	}
	r.smokeDone(results, "smoke passed on "+r.cand.Name)
	return false
}

// smokeDone announces the smoke gate's end with a report of its own (the event's copy is
// redacted as it is published; the verdict's later).
func (r *run) smokeDone(results []*smoke.SuiteResult, msg string) {
	if len(r.a.SmokeSuites) == 0 {
		return
	}
	r.emit(Event{Kind: EventSmokeDone, Phase: verdict.PhaseSmoke, Smoke: SmokeReport(r.started, results), Message: msg})
}

// smokeFailure names the failing step and condition of a suite result.
func smokeFailure(res *smoke.SuiteResult) string {
	for _, st := range res.Steps {
		switch st.Status {
		case smoke.Failed:
			for _, c := range st.Conditions {
				if !c.Passed {
					return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, firstOf(c.Detail, c.Expression))
				}
			}
			return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, st.Err)
		case smoke.Errored:
			return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, st.Err)
		}
	}
	return fmt.Sprintf("%s: %s", res.Suite.Metadata.Name, res.Err)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
