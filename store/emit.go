package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight/greenlight/verdict/emit"
)

// EmitOutbox is verdict/emit's Outbox over a store's: the daemon's Dispatcher claims, sends
// and marks the deliveries the store enqueued with the verdicts (and starts, overrides) they
// announce. Every backend's Outbox gets it unchanged; its claims skip disabled endpoints
// because the backend's do.
type EmitOutbox struct{ o Outbox }

var _ emit.Outbox = EmitOutbox{}

// NewEmitOutbox adapts o.
func NewEmitOutbox(o Outbox) EmitOutbox { return EmitOutbox{o: o} }

// Deliveries turns an event's deliveries (emit.Fanout's) into the store's, for the analysis
// they belong to.
func Deliveries(analysis string, ds []emit.Delivery) []Delivery {
	out := make([]Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, Delivery{Analysis: analysis, EventID: d.ID, Target: d.Endpoint, Type: string(d.Type),
			Timestamp: d.Timestamp, Payload: d.Payload})
	}
	return out
}

// Record is a stored delivery as verdict/emit sees it.
func Record(d Delivery) emit.Record {
	return emit.Record{
		Delivery: emit.Delivery{ID: d.EventID, Endpoint: d.Target, Type: emit.EventType(d.Type), Timestamp: d.Timestamp, Payload: d.Payload},
		State:    emit.State(d.State), Attempts: d.Attempts, Since: d.Since, NextAttempt: d.NextAttempt,
		LastError: d.LastError, DoneAt: d.DoneAt,
	}
}

func key(k emit.Key) DeliveryKey { return DeliveryKey{EventID: k.ID, Target: k.Endpoint} }

// notFound makes the store's ErrNotFound emit's too.
func notFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w (%w)", err, emit.ErrNotFound)
	}
	return err
}

// Claim implements emit.Outbox.
func (e EmitOutbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]emit.Record, error) {
	ds, err := e.o.ClaimDeliveries(ctx, now, limit, lease)
	if err != nil {
		return nil, err
	}
	out := make([]emit.Record, len(ds))
	for i, d := range ds {
		out[i] = Record(d)
	}
	return out, nil
}

// NextDue implements emit.Outbox.
func (e EmitOutbox) NextDue(ctx context.Context) (time.Time, bool, error) { return e.o.NextDue(ctx) }

// MarkDelivered implements emit.Outbox.
func (e EmitOutbox) MarkDelivered(ctx context.Context, k emit.Key, attempts int, at time.Time) error {
	return notFound(e.o.MarkDelivered(ctx, key(k), attempts, at))
}

// MarkFailed implements emit.Outbox.
func (e EmitOutbox) MarkFailed(ctx context.Context, k emit.Key, f emit.Failure) error {
	return notFound(e.o.MarkFailed(ctx, key(k), DeliveryFailure{Attempts: f.Attempts, At: f.At, Error: f.Error, Dead: f.Dead, Next: f.Next}))
}

// DisableEndpoint implements emit.Outbox.
func (e EmitOutbox) DisableEndpoint(ctx context.Context, endpoint, reason string, at time.Time) error {
	return e.o.DisableEndpoint(ctx, endpoint, reason, at)
}
