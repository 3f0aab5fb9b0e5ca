// Package traces is greenlight's own OpenTelemetry trace source: one OTLP/HTTP receiver
// (POST /v1/traces, protobuf or JSON, optionally gzip) for any number of analyses, and the
// queries an analysis runs on what it received — per-operation latencies and error counts
// (source.Source) and the trace shape comparison (Shape).
//
// One receiver, a view per analysis. Spans are stored by key: a resource attribute and its
// value (service.version "v2"), never by an analysis's environment names. Each analysis opens a
// View (Receiver.View) that maps its environments onto keys — {v1: blue, v2: green} — and answers
// its queries from those keys only; views may use different attributes (service.version,
// deployment.environment.name), and the receiver reads, for each resource, the value of every
// attribute an open view uses. A resource goes to every key it matches; two views that want the
// same key share its spans. Spans of keys no open view wants are rejected and counted; a key is
// dropped, spans and names, when the last view that wants it closes. greenlight verify builds a
// receiver with one view per analysis; the daemon shares one between all its analyses.
//
// What it keeps. Each span becomes a 64-byte record: trace, span and parent ids, interned
// operation and service names, kind, start, duration and an error flag. An operation is the span
// name, or "METHOD route" when the span has an http.route attribute, so synthetic probes and real
// traffic on the same route group together whatever the instrumentation named the span. A span
// is an error when its status is ERROR or its HTTP response status code is 500 or more. These
// rules are package spans', which the Jaeger source applies too.
//
// Who may feed it. The receiver accepts its own token (Config.Token) and the tokens of its open
// views (ViewConfig.Token); while there is any, every request must carry one of them as
// "Authorization: Bearer <token>" (compared in constant time, kept only as SHA-256 digests);
// others get 401 and are counted in Stats.Refused and in the warnings of the views opened before.
// A token admits a sender to the receiver, not to one view. Without any token anyone who can
// reach the listener can post spans, so the caller serves it on loopback unless the receiver has
// a token of its own (CheckListener): views' tokens go when their analyses end.
//
// What it costs. Each key holds at most Config.MaxSpans records in its own ring, the oldest
// going first, so a flood for one key evicts only that key's older spans: 64 bytes a span,
// 12.8 MB per key at the default 200,000, and at most Config.MaxKeys keys are open at once. Each
// key interns at most 32,767 distinct names of at most 256 bytes in a table of its own; past
// that its new names are "(other)", and no other key is affected. A request is read whole (at most MaxBodyBytes, before and after gzip) and at most MaxConcurrentRequests are
// read at once. Protobuf bodies are read straight from the wire into records (proto.go), so a
// request costs its body plus 64 bytes per kept span whatever it holds; JSON bodies go through
// pdata, which costs up to 16 times the body and is bounded accordingly (json.go).
//
// What it refuses. Spans whose resource carries no value an open view wants, spans without
// trace or span id, and spans without a valid start and end are rejected and counted in the
// response's partial_success, never guessed into an environment nor kept anywhere (not even
// their names). A query with
// no matching span in its window is a *source.Error wrapping source.ErrNoData, never an empty
// success that could read as healthy.
//
// What it must not know: verdicts and thresholds (compare judges the numbers), the analysis
// spec (the caller maps its options onto Config, ViewConfig and the query types) and where the
// handler is mounted (the caller serves ServeHTTP at /v1/traces on its own listener).
package traces
