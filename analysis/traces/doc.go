// Package traces is greenlight's own OpenTelemetry trace source: an OTLP/HTTP receiver
// (POST /v1/traces, protobuf or JSON, optionally gzip) that attributes each span to an
// environment by a resource attribute (service.version by default) and keeps a compact record of
// it, and the queries an analysis runs on those records — per-operation latencies and error
// counts (source.Source) and the trace shape comparison (Shape).
//
// What it keeps. Each span becomes a 64-byte record: trace, span and parent ids, interned
// operation and service names, kind, start, duration and an error flag. An operation is the span
// name, or "METHOD route" when the span has an http.route attribute, so synthetic probes and real
// traffic on the same route group together whatever the instrumentation named the span. A span
// is an error when its status is ERROR or its HTTP response status code is 500 or more.
//
// Who may feed it. With Config.Token set, every request must carry "Authorization: Bearer
// <token>" (compared in constant time, kept only as its SHA-256); others get 401 and are counted
// in Stats.Refused and in every query's warnings. Without a token anyone who can reach the
// listener can post spans, so the caller binds it to loopback unless a token is set.
//
// What it costs. Each environment holds at most Config.MaxSpans records in its own ring, the
// oldest going first, so a flood for one environment evicts only that environment's older spans:
// 64 bytes a span, 12.8 MB per environment at the default 200,000. Distinct names are capped at
// 65,536 of at most 256 bytes, each environment adding at most its equal share; past its share
// an environment's new names are "(other)", the other environment's are not affected. A request is
// read whole (at most MaxBodyBytes, before and after gzip) and at most MaxConcurrentRequests are
// read at once. Protobuf bodies are read straight from the wire into records (proto.go), so a
// request costs its body plus 64 bytes per kept span whatever it holds; JSON bodies go through
// pdata, which costs up to 16 times the body and is bounded accordingly (json.go).
//
// What it refuses. Spans whose resource does not carry one of the configured attribute values,
// spans without trace or span id, and spans without a valid start and end are rejected and
// counted in the response's partial_success, never guessed into an environment nor kept
// anywhere (not even their names). A query with
// no matching span in its window is a *source.Error wrapping source.ErrNoData, never an empty
// success that could read as healthy.
//
// What it must not know: verdicts and thresholds (compare judges the numbers), the analysis
// spec (the caller maps its options onto Config and the query types) and where the handler is
// mounted (the caller serves ServeHTTP at /v1/traces on its own listener).
package traces
