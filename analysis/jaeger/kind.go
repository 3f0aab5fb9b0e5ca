package jaeger

import (
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Kind builds Jaeger sources from an analysis's sources.jaeger and turns the checks that read it
// into queries.
var Kind = source.Kind{Open: open, Query: query}

func open(s *specs.Sources, deps source.Deps) (source.Source, error) {
	j := s.Jaeger
	return New(Config{URL: j.URL, Service: j.Service, Attribute: j.Attribute, Values: j.Values,
		MaxTraces: j.MaxTraces, Timeout: j.Timeout.D(), HTTPClient: deps.HTTPClient})
}

// query asks for an operation's error and total span counts, or its span durations.
func query(c *specs.Check) (source.Query, error) {
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Jaeger != nil:
		return OperationErrors{Operation: c.ErrorRate.Jaeger.Operation}, nil
	case c.Latency != nil && c.Latency.Jaeger != nil:
		return OperationLatency{Operation: c.Latency.Jaeger.Operation}, nil
	}
	return nil, source.Unsupported(SourceName, c)
}
