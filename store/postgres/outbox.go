package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
)

// enqueue writes a delivery of an analysis: due at once (or at its NextAttempt), its retry
// window from since (the verdict, the start). A key already there is left as it is.
func enqueue(ctx context.Context, tx pgx.Tx, d store.Delivery, analysis string, since time.Time) error {
	if d.EventID == "" || d.Target == "" {
		return fmt.Errorf("enqueue: a delivery needs an event id and a target (got %q, %q)", d.EventID, d.Target)
	}
	if d.Analysis == "" {
		d.Analysis = analysis
	}
	if since.IsZero() {
		since = d.Timestamp
	}
	next := d.NextAttempt
	if next.IsZero() {
		next = since
	}
	payload := []byte(d.Payload)
	if payload == nil {
		payload = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (analysis_id, event_id, target, type, timestamp, payload, state, since, next_attempt)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id, target) DO NOTHING`,
		d.Analysis, d.EventID, d.Target, d.Type, nanos(d.Timestamp), payload, string(store.DeliveryPending), nanos(since), nanos(next))
	return err
}

const deliveryColumns = `id, analysis_id, event_id, target, type, timestamp, payload, state, attempts, since, next_attempt, last_error, done_at, claimed_until`

// listColumns are deliveryColumns without the payload, which a list does not carry.
var listColumns = strings.Replace(deliveryColumns, "payload", "''::bytea AS payload", 1)

func scanDeliveries(rows pgx.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var (
			d                              store.Delivery
			state                          string
			ts, since, next, done, claimed int64
			payload                        []byte
		)
		if err := rows.Scan(&d.ID, &d.Analysis, &d.EventID, &d.Target, &d.Type, &ts, &payload, &state, &d.Attempts, &since, &next, &d.LastError, &done, &claimed); err != nil {
			return nil, err
		}
		d.Payload, d.State = payload, store.DeliveryState(state)
		d.Timestamp, d.Since, d.NextAttempt, d.DoneAt, d.ClaimedUntil = fromNanos(ts), fromNanos(since), fromNanos(next), fromNanos(done), fromNanos(claimed)
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements store.Outbox. The due rows are locked FOR UPDATE SKIP LOCKED: a
// sender claiming at the same moment takes other rows, never these.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET claimed_until = $1
		WHERE id IN (SELECT id FROM outbox o
			WHERE o.state = $2 AND o.next_attempt <= $3 AND o.claimed_until <= $3
			AND NOT EXISTS (SELECT 1 FROM disabled_endpoints e WHERE e.target = o.target)
			ORDER BY o.next_attempt, o.event_id, o.target LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, nanos(now.Add(lease)), string(store.DeliveryPending), nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.scrub(err))
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", s.scrub(err))
	}
	// RETURNING gives no order: oldest due first.
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.Target, b.Target))
	})
	return out, nil
}

// NextDue implements store.Outbox.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at *int64
	err := s.pool.QueryRow(ctx, `SELECT MIN(GREATEST(next_attempt, claimed_until)) FROM outbox o
		WHERE o.state = $1 AND NOT EXISTS (SELECT 1 FROM disabled_endpoints e WHERE e.target = o.target)`, string(store.DeliveryPending)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", s.scrub(err))
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return time.Unix(0, *at).UTC(), true, nil
}

// MarkDelivered implements store.Outbox.
func (s *Store) MarkDelivered(ctx context.Context, k store.DeliveryKey, attempts int, at time.Time) error {
	return s.markDelivery(ctx, k, `UPDATE outbox SET state = $1, attempts = $2, last_error = '', done_at = $3, claimed_until = 0 WHERE event_id = $4 AND target = $5`,
		string(store.DeliveryDelivered), attempts, nanos(at), k.EventID, k.Target)
}

// MarkFailed implements store.Outbox.
func (s *Store) MarkFailed(ctx context.Context, k store.DeliveryKey, f store.DeliveryFailure) error {
	if f.Dead {
		return s.markDelivery(ctx, k, `UPDATE outbox SET state = $1, attempts = $2, last_error = $3, done_at = $4, claimed_until = 0 WHERE event_id = $5 AND target = $6`,
			string(store.DeliveryDead), f.Attempts, f.Error, nanos(f.At), k.EventID, k.Target)
	}
	return s.markDelivery(ctx, k, `UPDATE outbox SET attempts = $1, last_error = $2, next_attempt = $3, claimed_until = 0 WHERE event_id = $4 AND target = $5`,
		f.Attempts, f.Error, nanos(f.Next), k.EventID, k.Target)
}

// Redeliver implements store.Outbox.
func (s *Store) Redeliver(ctx context.Context, k store.DeliveryKey, now time.Time) error {
	var state string
	if err := s.pool.QueryRow(ctx, `SELECT state FROM outbox WHERE event_id = $1 AND target = $2`, k.EventID, k.Target).Scan(&state); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("redeliver %s to %s: %w", k.EventID, k.Target, store.ErrNotFound)
		}
		return fmt.Errorf("redeliver %s to %s: %w", k.EventID, k.Target, s.scrub(err))
	}
	if store.DeliveryState(state) == store.DeliveryPending {
		return nil
	}
	return s.markDelivery(ctx, k, `UPDATE outbox SET state = $1, attempts = 0, since = $2, next_attempt = $2, done_at = 0, claimed_until = 0 WHERE event_id = $3 AND target = $4`,
		string(store.DeliveryPending), nanos(now), k.EventID, k.Target)
}

func (s *Store) markDelivery(ctx context.Context, k store.DeliveryKey, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update delivery %s to %s: %w", k.EventID, k.Target, s.scrub(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update delivery %s to %s: %w", k.EventID, k.Target, store.ErrNotFound)
	}
	return nil
}

// DisableEndpoint implements store.Outbox.
func (s *Store) DisableEndpoint(ctx context.Context, target, reason string, at time.Time) error {
	if reason == "" {
		reason = "disabled"
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO disabled_endpoints (target, reason, at) VALUES ($1, $2, $3)
		ON CONFLICT (target) DO UPDATE SET reason = excluded.reason, at = excluded.at`, target, reason, nanos(at))
	if err != nil {
		return fmt.Errorf("disable endpoint %s: %w", target, s.scrub(err))
	}
	return nil
}

// EnableEndpoint implements store.Outbox.
func (s *Store) EnableEndpoint(ctx context.Context, target string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM disabled_endpoints WHERE target = $1`, target); err != nil {
		return fmt.Errorf("enable endpoint %s: %w", target, s.scrub(err))
	}
	return nil
}

// DisabledEndpoints implements store.Outbox.
func (s *Store) DisabledEndpoints(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT target, reason FROM disabled_endpoints`)
	if err != nil {
		return nil, fmt.Errorf("disabled endpoints: %w", s.scrub(err))
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, r string
		if err := rows.Scan(&t, &r); err != nil {
			return nil, fmt.Errorf("disabled endpoints: %w", s.scrub(err))
		}
		out[t] = r
	}
	return out, s.scrub(rows.Err())
}

// Deliveries implements store.Outbox.
func (s *Store) Deliveries(ctx context.Context, analysis string) ([]store.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE analysis_id = $1 ORDER BY id`, analysis)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", analysis, s.scrub(err))
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", analysis, s.scrub(err))
	}
	return out, nil
}

// Delivery implements store.Outbox.
func (s *Store) Delivery(ctx context.Context, id int64) (store.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE id = $1`, id)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("read delivery %d: %w", id, s.scrub(err))
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("read delivery %d: %w", id, s.scrub(err))
	}
	if len(out) == 0 {
		return store.Delivery{}, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	}
	return out[0], nil
}

// ListDeliveries implements store.Outbox.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error) {
	limit := pageLimit(q.Limit)
	var (
		where []string
		a     args
	)
	if q.Analysis != "" {
		where = append(where, `analysis_id = `+a.add(q.Analysis))
	}
	if q.State != "" {
		where = append(where, `state = `+a.add(string(q.State)))
	}
	if q.Target != "" {
		where = append(where, `target = `+a.add(q.Target))
	}
	if q.After != "" {
		after, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || after <= 0 {
			return store.DeliveryPage{}, fmt.Errorf("invalid page cursor %q", q.After)
		}
		where = append(where, `id < `+a.add(after))
	}
	query := `SELECT ` + listColumns + ` FROM outbox`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.pool.Query(ctx, query+` ORDER BY id DESC LIMIT `+a.add(limit+1), a...)
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("list deliveries: %w", s.scrub(err))
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("list deliveries: %w", s.scrub(err))
	}
	page := store.DeliveryPage{Deliveries: ds}
	if len(ds) > limit {
		page.Deliveries = ds[:limit]
		page.Next = strconv.FormatInt(ds[limit-1].ID, 10)
	}
	for i := range page.Deliveries {
		page.Deliveries[i].Payload = nil
	}
	return page, nil
}

// CountDeliveries implements store.Outbox.
func (s *Store) CountDeliveries(ctx context.Context) ([]store.DeliveryCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT target, state, COUNT(*) FROM outbox GROUP BY target, state ORDER BY target, state`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", s.scrub(err))
	}
	defer rows.Close()
	var out []store.DeliveryCount
	for rows.Next() {
		var (
			c     store.DeliveryCount
			state string
		)
		if err := rows.Scan(&c.Target, &state, &c.N); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", s.scrub(err))
		}
		c.State = store.DeliveryState(state)
		out = append(out, c)
	}
	return out, s.scrub(rows.Err())
}
