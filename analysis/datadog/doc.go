// Package datadog reads check data from the Datadog metrics API: one series of values for value
// checks (v1 /api/v1/query or v2 /api/v2/query/timeseries with formulas), and an error count
// and a total for error-rate checks (two v1 queries, each summed over the window).
//
// Queries are Go templates rendered per environment. Every ambiguity — no series, only null
// points, NaN, several series where one was meant, an HTTP error — is a *source.Error, never a
// number that could pass. It retries 429 (after X-RateLimit-Reset) and 5xx (with backoff) within
// one Fetch; anything else is left to the caller's next tick.
//
// The API and application keys live only in this package's transport, which sets them as the
// DD-API-KEY and DD-APPLICATION-KEY headers on requests to the configured host; every error
// and log line passes through a redactor that knows them.
//
// It knows nothing of checks, verdicts or spec files: the analysis builds a Config and the
// queries from the spec and judges what Fetch returns.
package datadog
