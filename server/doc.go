// Package server is greenlight's daemon API over HTTP: start analyses from the loaded specs
// (idempotent on a caller's key), read them, long-poll their verdicts, abort and override them
// (audited), follow their events as server-sent events, feed the shared OTLP trace receiver,
// and /metrics, /healthz, /readyz and the OpenAPI document.
//
// What is reported is what is stored. Every event, verdict and audit entry goes to the store
// as the engine emits it (one writer goroutine per analysis, subscribed to the engine), and the
// API answers from the store: a verdict is shown only once it is committed, so no restart can
// change a verdict anyone has seen. A daemon that restarts finds the analyses still running in
// the store and starts them again under the same ids (their evidence collection starts over,
// which their events say).
//
// Deliveries: each event of an analysis that a configured endpoint wants (its start, its
// verdict, an abort, an override) is enqueued in the store's outbox in the transaction that
// records it, and the server's verdict/emit Dispatcher sends it, retrying until delivered or
// dead; the API lists deliveries, redelivers one and enables an endpoint a 410 disabled.
//
// What it must not know: how an analysis runs or decides (analysis), how the store keeps
// things (store), spec syntax (specs), or how the process is configured (cmd/greenlight).
package server
