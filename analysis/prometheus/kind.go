package prometheus

import (
	"fmt"
	"sort"
	"strconv"
	"text/template"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Kind builds Prometheus sources from an analysis's sources.prometheus and compiles the queries
// of the checks that read it.
var Kind = source.Kind{Open: open, Key: key, Query: query}

func open(s *specs.Sources, deps source.Deps) (source.Source, error) {
	p := s.Prometheus
	return New(Config{
		URL: p.URL, BearerToken: p.Token(), Username: p.Username, Password: p.PasswordSecret(),
		Headers: p.Headers, CAFile: p.CAPath(), Insecure: p.Insecure, Timeout: p.Timeout.D(),
		HTTPClient: deps.HTTPClient,
	})
}

// key is the server's URL and a hash of how it is reached: credentials, headers, TLS, timeout.
func key(s *specs.Sources, _ source.Deps) string {
	p := s.Prometheus
	parts := []string{p.Token().Reveal(), p.Username, p.PasswordSecret().Reveal(), p.CAPath(),
		strconv.FormatBool(p.Insecure), p.Timeout.D().String()}
	names := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		parts = append(parts, k, p.Headers[k])
	}
	return "prometheus " + p.URL + " " + source.ConfigHash(parts...)
}

// query compiles a check's query templates: counts for an error rate, buckets for a latency
// percentile, a series for values.
func query(c *specs.Check) (source.Query, error) {
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Prometheus != nil:
		errs, err := parseKey(c, "errors", c.ErrorRate.Prometheus.Errors)
		if err != nil {
			return nil, err
		}
		total, err := parseKey(c, "total", c.ErrorRate.Prometheus.Total)
		if err != nil {
			return nil, err
		}
		return CountsQuery{Errors: errs, Total: total}, nil
	case c.Latency != nil && c.Latency.Prometheus != nil:
		b, err := parseKey(c, "buckets", c.Latency.Prometheus.Buckets)
		if err != nil {
			return nil, err
		}
		return HistogramQuery{Buckets: b}, nil
	case c.Values != nil && c.Values.Prometheus != nil:
		q, err := parseKey(c, "query", c.Values.Prometheus.Query)
		if err != nil {
			return nil, err
		}
		return ValuesQuery{Query: q, Step: c.Values.Prometheus.Step.D()}, nil
	}
	return nil, source.Unsupported("prometheus", c)
}

// parseKey compiles one of a check's query templates.
func parseKey(c *specs.Check, key, text string) (*template.Template, error) {
	t, err := Parse(c.Name+"."+key, text)
	if err != nil {
		return nil, fmt.Errorf("prometheus.%s: %w", key, err)
	}
	return t, nil
}
