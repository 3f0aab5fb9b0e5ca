package smoke

import (
	"context"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// attempt is one execution of a step. The executor fills the response (for conditions and
// captures) and a description of the request for reports.
type attempt struct {
	step    *specs.Step
	target  Target
	data    *specs.TemplateData
	traceID string
	header  specs.Synthetic
	redact  *specs.Redactor // the run's secrets: headers holding one never follow a redirect away

	request  string // filled by the executor, unredacted
	response *specs.Response
	connect  time.Duration // dialling, when the attempt opened a connection
	tls      time.Duration // the TLS handshake, when it made one
}

// executor runs one attempt of a step kind. It returns an error only when the step could not
// produce a response (connection refused, timeout, template error); a bad status is a response.
type executor func(r *Runner, ctx context.Context, a *attempt) error

// executors has one entry per step kind, keyed like specs' step kind registry.
var executors = map[string]executor{
	"http": (*Runner).doHTTP,
}
