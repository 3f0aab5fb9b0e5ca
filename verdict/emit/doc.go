// Package emit delivers an analysis's events — started, smoke done, decided, watch regression,
// aborted, overridden — to the systems that act on them, and never loses one.
//
// It owns the contract every integration implements ([Emitter]: one attempt, answering whether
// a failure is worth retrying), the one retry policy they all share ([Policy]: exponential
// backoff with full jitter, Retry-After honoured, a delivery dead after so many attempts or so
// long, 410 Gone disabling its endpoint), the [Dispatcher] that drives attempts from an
// [Outbox], the [Outbox] interface itself (the store implements it durably; [Memory] is the
// in-process one, for tests and one-shot runs) and the versioned payload ([Payload]) whose JSON
// Schema is docs/webhook.schema.json.
//
// Integrations live in subpackages (webhook, slack, codedeploy), one per kind, each with a New that returns
// an [Emitter]. Every delivery carries an id that stays the same on every attempt — the
// receiver's idempotency key — so that at-least-once delivery is safe: a retry after a lost
// answer repeats the id, never a different event.
//
// The package must not know how endpoints are configured in specs, nor how the store persists
// the outbox; it imports nothing of greenlight's but verdict, compare and secret.
package emit
