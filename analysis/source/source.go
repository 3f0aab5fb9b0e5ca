// Package source is the contract between an analysis and the systems it reads metrics and
// traces from (Prometheus, Datadog, Jaeger, OpenTelemetry traces). Each source lives in its own
// package beside this one, implements Source and exports a Kind (how it is built from the spec
// and how it compiles a check's query); the analysis keeps one map from a source's YAML key to
// its Kind, and spec validation checks names against the same keys.
//
// A source returns data for one environment at a time, never a verdict: compare judges it. It
// must be fail-safe: an empty result, NaN, a missing series, an HTTP error or a timeout is an
// *Error, never zero values that could look healthy.
package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Env is the environment a query is about.
type Env struct {
	Name   string            // blue, green
	Role   string            // baseline, candidate
	Labels map[string]string // from the analysis's environments, for query templates
}

// Window is the span of time a query covers: the analysis so far.
type Window struct {
	Start, End time.Time
	Step       time.Duration // resolution for range queries
}

// Duration is End − Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Shape is what a query returns, matching the check kinds.
type Shape string

const (
	ShapeCounts    Shape = "counts"    // errors and total → error-rate check
	ShapeHistogram Shape = "histogram" // cumulative `le` buckets → latency check
	ShapeValues    Shape = "values"    // one number per interval → value check
	ShapeLatencies Shape = "latencies" // raw durations (seconds), e.g. of spans → latency check
)

// Counts are an error count and a total over the window.
type Counts struct {
	Errors, Total float64
}

// Histogram is cumulative bucket counts by upper bound (seconds); the last bound may be +Inf.
type Histogram struct {
	LE         []float64
	Cumulative []float64
}

// Result is one environment's data. Exactly the field of the query's shape is set.
type Result struct {
	Counts    *Counts
	Histogram *Histogram
	Values    []float64
	Latencies []float64
	// OK, for Latencies, is how many of them are of operations known to have succeeded (spans
	// without an error status); nil when the source cannot tell. It is the evidence that the
	// environment works at all, which a relative comparison cannot give.
	OK *float64
	// Warnings the source reported (Prometheus warnings, partial data); shown in the outcome.
	Warnings []string
}

// Query is one templated request to a source, for one environment.
type Query interface {
	Shape() Shape
}

// Source fetches a query's result for one environment over a window.
type Source interface {
	Fetch(ctx context.Context, q Query, env Env, w Window) (Result, error)
}

// Error is a source failure with what the check's reason needs.
type Error struct {
	Source    string // prometheus, datadog, traces
	URL       string // where the source was asked, without credentials (see PublicURL); may be ""
	Env       string
	Reason    string // "empty result", "HTTP 503", "timeout after 5s", "NaN in series"
	Retryable bool   // a later tick may succeed (timeouts, 5xx, 429)
	Err       error
}

// Error reads "prometheus at http://prom:9090 for green: <reason>"; the reason is written to be
// complete, and the underlying error stays reachable through errors.As / errors.Is.
func (e *Error) Error() string {
	if e.URL != "" {
		return fmt.Sprintf("%s at %s for %s: %s", e.Source, e.URL, e.Env, e.Reason)
	}
	return fmt.Sprintf("%s for %s: %s", e.Source, e.Env, e.Reason)
}

// PublicURL is raw as an error may show it: scheme, host and path, without user information,
// query or fragment, where credentials could be.
func PublicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return strings.TrimRight(u.String(), "/")
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoData marks results that hold nothing usable (empty vector, null points only).
var ErrNoData = errors.New("no data")
