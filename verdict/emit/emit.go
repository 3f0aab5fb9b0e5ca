package emit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// EventType names what happened to an analysis; it is the payload's "type".
type EventType string

const (
	Started         EventType = "analysis.started"          // the analysis began
	SmokeDone       EventType = "analysis.smoke_done"       // the smoke gate finished (passed or not)
	Decided         EventType = "analysis.decided"          // a verdict: promote, rollback or inconclusive
	WatchRegression EventType = "analysis.watch_regression" // after promote, the watch found a regression
	Aborted         EventType = "analysis.aborted"          // stopped before a verdict
	Overridden      EventType = "analysis.overridden"       // a person decided instead of the analysis
)

// EventTypes lists every event type, in the order an analysis meets them.
var EventTypes = []EventType{Started, SmokeDone, Decided, WatchRegression, Aborted, Overridden}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// ParseEventType reads an event type as configured: the full name ("analysis.decided") or
// the short one ("decided").
func ParseEventType(s string) (EventType, error) {
	for _, t := range EventTypes {
		if s == string(t) || "analysis."+s == string(t) {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown event type %q (want one of started, smoke_done, decided, watch_regression, aborted, overridden)", s)
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	// ID identifies the event: the webhook-id header, the same on every attempt and for every
	// endpoint the event goes to, so that receivers can drop repeats.
	ID string
	// Endpoint names the configured endpoint the event goes to.
	Endpoint string
	Type     EventType
	// Timestamp is when the event happened (the payload's timestamp); each attempt carries its
	// own time in its headers.
	Timestamp time.Time
	// Payload is the event's JSON (see Payload), the same bytes on every attempt.
	Payload []byte
}

// Key is what identifies a delivery in an outbox: one event to one endpoint.
type Key struct {
	ID       string
	Endpoint string
}

// Key returns the delivery's outbox key.
func (d Delivery) Key() Key { return Key{ID: d.ID, Endpoint: d.Endpoint} }

// Emitter makes one attempt at a delivery. It returns nil when the receiver accepted it.
// Otherwise retry says whether another attempt may succeed (a 5xx, a 429, a timeout, a refused
// connection) or never will (any other 4xx: the request itself is wrong). An error wrapping
// ErrGone disables the endpoint; one wrapping a *StatusError with a Retry-After makes the
// next attempt wait at least that long. The error's text is kept as the delivery's last
// error, so it must hold no secret.
//
// Emit does not retry by itself: the Dispatcher schedules attempts for every integration with
// one Policy. It must honour ctx's deadline.
type Emitter interface {
	Emit(ctx context.Context, d Delivery) (retry bool, err error)
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, d Delivery) (bool, error)

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, d Delivery) (bool, error) { return f(ctx, d) }

// Route is an endpoint's subscription: its name and the event types it wants (none: all).
type Route struct {
	Endpoint string
	Events   []EventType
}

// Wants reports whether the route subscribes to t.
func (r Route) Wants(t EventType) bool { return len(r.Events) == 0 || slices.Contains(r.Events, t) }

// Fanout returns the deliveries of one event to the routes that want it: the same id and
// payload for each endpoint.
func Fanout(id string, t EventType, at time.Time, payload []byte, routes []Route) []Delivery {
	var out []Delivery
	for _, r := range routes {
		if r.Wants(t) {
			out = append(out, Delivery{ID: id, Endpoint: r.Endpoint, Type: t, Timestamp: at, Payload: payload})
		}
	}
	return out
}

// NewID returns a new event id: "evt_" and a ULID (26 characters of Crockford base32: the
// time in milliseconds, then 80 random bits), so that ids sort by creation time.
func NewID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	return "evt_" + ulid(b)
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid encodes 128 bits as 26 base32 characters, the first carrying the top 3 bits.
func ulid(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
