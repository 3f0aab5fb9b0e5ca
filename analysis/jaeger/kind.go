package jaeger

import (
	"sort"
	"strconv"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Kind builds Jaeger sources from an analysis's sources.jaeger and turns the checks that read it
// into queries.
var Kind = source.Kind{Open: open, Key: key, Query: query}

func open(s *specs.Sources, deps source.Deps) (source.Source, error) {
	j := s.Jaeger
	return New(Config{URL: j.URL, Service: j.Service, Attribute: j.Attribute, Values: j.Values,
		MaxTraces: j.MaxTraces, Timeout: j.Timeout.D(), HTTPClient: deps.HTTPClient})
}

// key is the query service's URL and a hash of what a source reads from it: the service, how
// environments are told apart, and the limits. Jaeger takes no credentials.
func key(s *specs.Sources, _ source.Deps) string {
	j := s.Jaeger
	parts := []string{j.Service, j.Attribute, strconv.Itoa(j.MaxTraces), j.Timeout.D().String()}
	values := make([]string, 0, len(j.Values))
	for v := range j.Values {
		values = append(values, v)
	}
	sort.Strings(values)
	for _, v := range values {
		parts = append(parts, v, j.Values[v])
	}
	return SourceName + " " + j.URL + " " + source.ConfigHash(parts...)
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
