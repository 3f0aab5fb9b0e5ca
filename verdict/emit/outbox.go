package emit

import (
	"context"
	"errors"
	"time"
)

// State is where a delivery stands.
type State string

const (
	Pending   State = "pending"   // waiting for its next attempt (or for its endpoint to be enabled)
	Delivered State = "delivered" // the receiver accepted it
	Dead      State = "dead"      // given up: not retryable, gone, or out of attempts or time
)

// Record is a delivery with its history in the outbox.
type Record struct {
	Delivery
	State State
	// Attempts counts the attempts made since Since.
	Attempts int
	// Since is when the delivery was enqueued, or redelivered by hand: the start of its retry
	// window (Policy.MaxAge).
	Since time.Time
	// NextAttempt is when a pending delivery is due.
	NextAttempt time.Time
	// LastError is the last failed attempt's error ("" before any, or once delivered).
	LastError string
	// DoneAt is when it was delivered or declared dead.
	DoneAt time.Time
}

// Failure is the outcome of a failed attempt, as the outbox records it.
type Failure struct {
	Attempts int       // attempts made, this one included
	At       time.Time // when this attempt ended
	Error    string
	// Dead is true when no attempt follows; otherwise Next is when the next one is due.
	Dead bool
	Next time.Time
}

// Outbox is the durable queue the Dispatcher works from. The store implements it, enqueueing a
// verdict's deliveries in the same transaction as the verdict so that neither exists without
// the other; Memory implements it in process.
//
// Claim leases deliveries so that a concurrent claim (another dispatcher, another replica)
// does not get them; a lease that runs out without a mark — its dispatcher died — makes the
// delivery due again, which is why receivers must expect an id twice.
type Outbox interface {
	// Claim returns up to limit pending deliveries due at now whose endpoints are enabled, oldest
	// due first, and leases each until now+lease.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Record, error)
	// NextDue returns when the earliest pending delivery of an enabled endpoint is due
	// (leased ones: when their lease ends); ok is false when there is none.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// MarkDelivered records a successful attempt and ends the lease.
	MarkDelivered(ctx context.Context, k Key, attempts int, at time.Time) error
	// MarkFailed records a failed attempt and ends the lease: the delivery is due again at
	// f.Next, or dead.
	MarkFailed(ctx context.Context, k Key, f Failure) error
	// DisableEndpoint stops claims of the endpoint's deliveries (they stay pending) until it
	// is enabled again by hand; reason says why (a 410 Gone answer).
	DisableEndpoint(ctx context.Context, endpoint, reason string, at time.Time) error
}

// ErrNotFound is returned for a key no record has.
var ErrNotFound = errors.New("no such delivery")
