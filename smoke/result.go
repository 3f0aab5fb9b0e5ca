package smoke

import (
	"time"

	"github.com/greenlight/greenlight/specs"
)

// Status is the outcome of a step or a suite.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"  // a condition did not hold
	Errored Status = "error"   // the step could not run: connection refused, timeout, bad template
	Skipped Status = "skipped" // not run because an earlier step failed
)

// SuiteResult is one pass of a suite against one environment.
type SuiteResult struct {
	Suite       *specs.Suite
	Environment string
	URL         string // base URL, redacted
	Status      Status
	StartedAt   time.Time
	Duration    time.Duration
	Err         string // suite-level problem, e.g. the suite timeout
	TraceID     string
	Steps       []StepResult
}

// StepResult is one step's outcome. Every string in it is already redacted.
type StepResult struct {
	Name        string
	Kind        string
	Environment string // the environment the step ran on
	Status      Status
	Always      bool
	StartedAt   time.Time
	Duration    time.Duration // wall time including retries
	Attempts    int
	Request     string // "GET http://host/path"
	StatusCode  int
	// Latency is the final attempt's response time, what `duration` sees: from the request
	// written to the response body read. Dialling, the TLS handshake, waiting for a pooled
	// connection and building the request are not in it; Connect and TLS hold the first two.
	Latency time.Duration
	Connect time.Duration // the final attempt's dialling; 0 on a kept-alive connection
	TLS     time.Duration // the final attempt's TLS handshake; 0 on a kept-alive connection
	TraceID string
	Err     string
	// Unreachable says why the request never reached the application — "connection refused",
	// "DNS: no such host …", "TLS: certificate not trusted" — when that is why the step errored.
	Unreachable string
	Conditions  []ConditionResult
	Captured    []string // names only
}

// ConditionResult is one evaluated condition.
type ConditionResult struct {
	Expression string
	Passed     bool
	Detail     string // resolved values when it failed: "status (500) == 200"
}

// Passed reports whether every step passed (skipped steps never occur without a failure).
func (r *SuiteResult) Passed() bool { return r.Status == Passed }
