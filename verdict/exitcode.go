package verdict

// ExitCode is the process exit status of the greenlight command line. The values are
// part of the public interface: pipelines, Kubernetes Jobs and CodeDeploy hooks branch
// on them.
type ExitCode int

const (
	ExitPass         ExitCode = 0 // promote, or the suite passed
	ExitFail         ExitCode = 1 // rollback, or a step failed
	ExitInconclusive ExitCode = 2 // not enough evidence either way
	ExitInvalid      ExitCode = 3 // bad spec, bad flag, unknown file
	ExitInternal     ExitCode = 4 // internal or environment error
	// ExitInterrupted: stopped by SIGINT or SIGTERM before a verdict. Nothing was decided about
	// the candidate; the reports written hold what was known when it stopped.
	ExitInterrupted ExitCode = 5
)

// ExitCode returns ExitPass when the report passed (see [Report.Passed]) and ExitFail
// otherwise.
//
// A suite-level error is ExitFail too, even when no step failed: when a suite cannot
// reach its environment or runs out of time, it is the deployment under test that did
// not answer, so the suite failed. ExitInternal is kept for failures of greenlight
// itself, which the caller detects before any report exists. A report with no suites
// is ExitFail as well, because nothing was shown to work.
func (r *Report) ExitCode() ExitCode {
	if len(r.Problems) > 0 {
		return ExitInvalid
	}
	if r.Interrupted {
		return ExitInterrupted
	}
	if r.Passed() {
		return ExitPass
	}
	return ExitFail
}
