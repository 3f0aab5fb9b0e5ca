package main

import (
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/verdict"
)

// newReport turns smoke results into the report model the renderers share.
func newReport(started time.Time, results []*smoke.SuiteResult) *verdict.Report {
	rep := analysis.SmokeReport(started, results)
	rep.Version = appVersion()
	return rep
}

func stepReport(suiteEnv string, st smoke.StepResult) verdict.StepReport {
	return analysis.StepReport(suiteEnv, st)
}
