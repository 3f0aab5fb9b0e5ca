// Package jaeger reads check data from a Jaeger v2 query service through its api_v3 HTTP
// gateway (GET /api/v3/traces): span durations for latency checks and error/total counts for
// error-rate checks, for one service, per environment.
//
// The gateway answers in OTLP JSON and ignores attribute filters, so the environment (a
// resource attribute such as service.version) and the operation are matched here, with the
// rules of package spans that the built-in OTLP receiver (package traces) applies too: an
// operation is "METHOD route" when a span has http.route, else the span name; a span is an
// error when its status is ERROR or its HTTP response status code is 500 or more. The package knows nothing of checks or verdicts: an
// empty answer, an HTTP error or a timeout is a *source.Error, never numbers that could pass.
package jaeger
