package analysis

import (
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/verdict"
)

// SmokeReport turns smoke results into the report model the renderers share. Tool is set;
// the caller sets Version.
func SmokeReport(started time.Time, results []*smoke.SuiteResult) *verdict.Report {
	rep := &verdict.Report{Tool: "greenlight", StartedAt: started, Duration: time.Since(started)}
	for _, r := range results {
		sr := verdict.SuiteReport{
			Name:        r.Suite.Metadata.Name,
			File:        r.Suite.File,
			Environment: r.Environment,
			URL:         r.URL,
			Status:      verdict.Status(r.Status),
			StartedAt:   r.StartedAt,
			Duration:    r.Duration,
			Error:       r.Err,
		}
		for _, st := range r.Steps {
			sr.Steps = append(sr.Steps, StepReport(r.Environment, st))
		}
		rep.Suites = append(rep.Suites, sr)
	}
	return rep
}

// StepReport converts one step result; Environment is set only when the step ran on another
// environment than its suite.
func StepReport(suiteEnv string, st smoke.StepResult) verdict.StepReport {
	out := verdict.StepReport{
		Name:       st.Name,
		Kind:       st.Kind,
		Status:     verdict.Status(st.Status),
		Always:     st.Always,
		Duration:   st.Duration,
		Attempts:   st.Attempts,
		Request:    st.Request,
		StatusCode: st.StatusCode,
		TraceID:    st.TraceID,
		Error:      st.Err,
		Captured:   st.Captured,
	}
	if st.Environment != suiteEnv {
		out.Environment = st.Environment
	}
	for _, c := range st.Conditions {
		out.Conditions = append(out.Conditions, verdict.ConditionReport{Expression: c.Expression, Passed: c.Passed, Detail: c.Detail})
	}
	return out
}
