package traces

import (
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Kind compiles the queries of the checks that read the received traces. It has no Open: an
// analysis's view of a receiver is built by the engine, which decides whose receiver it is
// (the process's shared one, or the analysis's own).
var Kind = source.Kind{Query: query}

// query asks for an operation's error and total span counts, or its span durations. A trace
// shape check reads the view's Shape instead and has no query.
func query(c *specs.Check) (source.Query, error) {
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Traces != nil:
		return OperationErrors{Operation: c.ErrorRate.Traces.Operation, Service: c.ErrorRate.Traces.Service}, nil
	case c.Latency != nil && c.Latency.Traces != nil:
		return OperationLatency{Operation: c.Latency.Traces.Operation, Service: c.Latency.Traces.Service}, nil
	case c.TraceShape != nil:
		return nil, nil
	}
	return nil, source.Unsupported("traces", c)
}
