// Package store is what the daemon must not lose, behind small interfaces: analyses (with
// their idempotency keys), their events, the latest snapshot of each, exactly one verdict per
// analysis, the audit log of what people did (aborts, overrides) and the delivery outbox that
// is written in the same transaction as the verdict it announces.
//
// EmitOutbox adapts any backend's outbox to verdict/emit's Outbox, so that the daemon's
// Dispatcher sends what the store enqueued; Deliveries turns emit.Fanout's deliveries into
// the store's, to be enqueued with the verdict (or start, override) they announce.
//
// Two optional interfaces serve several replicas on one database: Changes tells of commits
// made by any of them (the events and verdicts another replica writes), and Commands keeps the
// aborts and overrides asked of one replica for the replica that runs the analysis. A store
// only one process writes (store/sqlite) has neither: the process knows its own commits.
//
// It holds types and contracts only; each backend is a package of its own (store/sqlite, the
// embedded default; store/postgres, for several replicas) and every backend passes the one
// test table in store/storetest unchanged.
//
// What it must not know: how an analysis runs or decides (analysis), what a snapshot or an
// event holds (opaque JSON to it), how a delivery is sent (the emitters), or HTTP.
package store
