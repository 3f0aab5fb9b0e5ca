package datadog

import (
	"fmt"
	"os"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

// Kind builds Datadog sources from an analysis's sources.datadog and compiles the queries of
// the checks that read it.
var Kind = source.Kind{Open: open, Key: clientKey, Query: query}

func config(s *specs.Sources, deps source.Deps) Config {
	d := s.Datadog
	api, app := d.Keys()
	return Config{APIKey: api, AppKey: app, Site: d.Site, BaseURL: d.BaseURL, Timeout: d.Timeout.D(), HTTPClient: deps.HTTPClient}
}

func open(s *specs.Sources, deps source.Deps) (source.Source, error) {
	return New(config(s, deps), deps.LookupEnv, deps.Logger)
}

// clientKey is the API's base URL and a hash of the keys (as resolved, from the environment
// when the spec leaves them out) and the timeout; "" when they cannot be resolved, which Open
// then reports.
func clientKey(s *specs.Sources, deps source.Deps) string {
	cfg := config(s, deps)
	lookupEnv := deps.LookupEnv
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	api, err1 := key(cfg.APIKey, "DD_API_KEY", "API key", lookupEnv)
	app, err2 := key(cfg.AppKey, "DD_APP_KEY", "application key", lookupEnv)
	base, err3 := baseURL(cfg, lookupEnv)
	if err1 != nil || err2 != nil || err3 != nil {
		return ""
	}
	return "datadog " + base + " " + source.ConfigHash(api.Reveal(), app.Reveal(), cfg.Timeout.String())
}

// query compiles a check's queries: an error count and a total for an error rate, a metric
// query or a formula for values.
func query(c *specs.Check) (source.Query, error) {
	var q source.Query
	var err error
	switch {
	case c.ErrorRate != nil && c.ErrorRate.Datadog != nil:
		q, err = NewCountsQuery(c.ErrorRate.Datadog.Errors, c.ErrorRate.Datadog.Total)
	case c.Values != nil && c.Values.Datadog != nil && c.Values.Datadog.Query != "":
		q, err = NewMetricQuery(c.Values.Datadog.Query)
	case c.Values != nil && c.Values.Datadog != nil:
		q, err = NewFormulaQuery(c.Values.Datadog.Queries, c.Values.Datadog.Formula)
	default:
		return nil, source.Unsupported("datadog", c)
	}
	if err != nil {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	return q, nil
}
