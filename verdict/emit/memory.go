package emit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is an in-process Outbox: for tests, and for one-shot runs (greenlight verify) that
// deliver their events and exit. What it holds is lost with the process; the daemon uses the
// store's outbox instead. It is safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	records  map[Key]*memRecord
	order    []Key // enqueue order, for List
	disabled map[string]string
}

type memRecord struct {
	Record
	leaseUntil time.Time
}

// NewMemory returns an empty outbox.
func NewMemory() *Memory {
	return &Memory{records: map[Key]*memRecord{}, disabled: map[string]string{}}
}

var _ Outbox = (*Memory)(nil)

// Enqueue adds deliveries due at now. A delivery whose key is already there is left as it is:
// enqueueing is idempotent.
func (m *Memory) Enqueue(now time.Time, ds ...Delivery) error {
	for _, d := range ds {
		if d.ID == "" || d.Endpoint == "" {
			return fmt.Errorf("enqueue: a delivery needs an id and an endpoint (got %q, %q)", d.ID, d.Endpoint)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range ds {
		k := d.Key()
		if _, ok := m.records[k]; ok {
			continue
		}
		m.records[k] = &memRecord{Record: Record{Delivery: d, State: Pending, Since: now, NextAttempt: now}}
		m.order = append(m.order, k)
	}
	return nil
}

// Claim implements Outbox.
func (m *Memory) Claim(_ context.Context, now time.Time, limit int, lease time.Duration) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []*memRecord
	for _, r := range m.records {
		if r.State == Pending && m.disabled[r.Endpoint] == "" && !r.NextAttempt.After(now) && !r.leaseUntil.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *memRecord) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	if len(due) > limit {
		due = due[:max(limit, 0)]
	}
	out := make([]Record, len(due))
	for i, r := range due {
		r.leaseUntil = now.Add(lease)
		out[i] = r.Record
	}
	return out, nil
}

// NextDue implements Outbox.
func (m *Memory) NextDue(context.Context) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var at time.Time
	ok := false
	for _, r := range m.records {
		if r.State != Pending || m.disabled[r.Endpoint] != "" {
			continue
		}
		t := r.NextAttempt
		if r.leaseUntil.After(t) {
			t = r.leaseUntil
		}
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok, nil
}

// MarkDelivered implements Outbox.
func (m *Memory) MarkDelivered(_ context.Context, k Key, attempts int, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return fmt.Errorf("mark delivered %s to %s: %w", k.ID, k.Endpoint, ErrNotFound)
	}
	r.State, r.Attempts, r.LastError, r.DoneAt, r.leaseUntil = Delivered, attempts, "", at, time.Time{}
	return nil
}

// MarkFailed implements Outbox.
func (m *Memory) MarkFailed(_ context.Context, k Key, f Failure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return fmt.Errorf("mark failed %s to %s: %w", k.ID, k.Endpoint, ErrNotFound)
	}
	r.Attempts, r.LastError, r.leaseUntil = f.Attempts, f.Error, time.Time{}
	if f.Dead {
		r.State, r.DoneAt = Dead, f.At
	} else {
		r.NextAttempt = f.Next
	}
	return nil
}

// DisableEndpoint implements Outbox.
func (m *Memory) DisableEndpoint(_ context.Context, endpoint, reason string, _ time.Time) error {
	if reason == "" {
		reason = "disabled"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disabled[endpoint] = reason
	return nil
}

// EnableEndpoint lets the endpoint's pending deliveries be claimed again.
func (m *Memory) EnableEndpoint(endpoint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.disabled, endpoint)
}

// Disabled returns the disabled endpoints with the reason each was disabled.
func (m *Memory) Disabled() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.disabled))
	for k, v := range m.disabled {
		out[k] = v
	}
	return out
}

// Redeliver makes a delivered or dead delivery pending again, due at now, with a new retry
// window: the manual redelivery of an operator who fixed the receiver.
func (m *Memory) Redeliver(k Key, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return fmt.Errorf("redeliver %s to %s: %w", k.ID, k.Endpoint, ErrNotFound)
	}
	if r.State == Pending {
		return nil
	}
	r.State, r.Attempts, r.Since, r.NextAttempt, r.DoneAt, r.leaseUntil = Pending, 0, now, now, time.Time{}, time.Time{}
	return nil
}

// Get returns one record.
func (m *Memory) Get(k Key) (Record, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return Record{}, false
	}
	return r.Record, true
}

// List returns every record in enqueue order.
func (m *Memory) List() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(m.order))
	for _, k := range m.order {
		out = append(out, m.records[k].Record)
	}
	return out
}
