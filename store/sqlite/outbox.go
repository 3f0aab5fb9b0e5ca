package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/store"
)

// enqueue writes a delivery of an analysis: due at once (or at its NextAttempt), its retry
// window from since (the verdict, the start). A key already there is left as it is.
func enqueue(ctx context.Context, tx *sql.Tx, d store.Delivery, analysis string, since time.Time) error {
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
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (analysis_id, event_id, target, type, timestamp, payload, state, since, next_attempt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, target) DO NOTHING`,
		d.Analysis, d.EventID, d.Target, d.Type, nanos(d.Timestamp), []byte(d.Payload), string(store.DeliveryPending), nanos(since), nanos(next))
	return err
}

const deliveryColumns = `id, analysis_id, event_id, target, type, timestamp, payload, state, attempts, since, next_attempt, last_error, done_at, claimed_until`

func scanDeliveries(rows *sql.Rows) ([]store.Delivery, error) {
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

// ClaimDeliveries implements store.Outbox.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET claimed_until = ?
			WHERE id IN (SELECT id FROM outbox
				WHERE state = ? AND next_attempt <= ? AND claimed_until <= ?
				AND target NOT IN (SELECT target FROM disabled_endpoints)
				ORDER BY next_attempt, event_id, target LIMIT ?)
			RETURNING `+deliveryColumns, nanos(now.Add(lease)), string(store.DeliveryPending), nanos(now), nanos(now), limit)
		if err != nil {
			return err
		}
		out, err = scanDeliveries(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// RETURNING gives no order: oldest due first.
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.Target, b.Target))
	})
	return out, nil
}

// NextDue implements store.Outbox.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(MAX(next_attempt, claimed_until)) FROM outbox
		WHERE state = ? AND target NOT IN (SELECT target FROM disabled_endpoints)`, string(store.DeliveryPending)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, at.Int64).UTC(), true, nil
}

// MarkDelivered implements store.Outbox.
func (s *Store) MarkDelivered(ctx context.Context, k store.DeliveryKey, attempts int, at time.Time) error {
	return s.markDelivery(ctx, k, `UPDATE outbox SET state = ?, attempts = ?, last_error = '', done_at = ?, claimed_until = 0 WHERE event_id = ? AND target = ?`,
		string(store.DeliveryDelivered), attempts, nanos(at), k.EventID, k.Target)
}

// MarkFailed implements store.Outbox.
func (s *Store) MarkFailed(ctx context.Context, k store.DeliveryKey, f store.DeliveryFailure) error {
	if f.Dead {
		return s.markDelivery(ctx, k, `UPDATE outbox SET state = ?, attempts = ?, last_error = ?, done_at = ?, claimed_until = 0 WHERE event_id = ? AND target = ?`,
			string(store.DeliveryDead), f.Attempts, f.Error, nanos(f.At), k.EventID, k.Target)
	}
	return s.markDelivery(ctx, k, `UPDATE outbox SET attempts = ?, last_error = ?, next_attempt = ?, claimed_until = 0 WHERE event_id = ? AND target = ?`,
		f.Attempts, f.Error, nanos(f.Next), k.EventID, k.Target)
}

// Redeliver implements store.Outbox.
func (s *Store) Redeliver(ctx context.Context, k store.DeliveryKey, now time.Time) error {
	var state string
	if err := s.w.QueryRowContext(ctx, `SELECT state FROM outbox WHERE event_id = ? AND target = ?`, k.EventID, k.Target).Scan(&state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("redeliver %s to %s: %w", k.EventID, k.Target, store.ErrNotFound)
		}
		return fmt.Errorf("redeliver %s to %s: %w", k.EventID, k.Target, err)
	}
	if store.DeliveryState(state) == store.DeliveryPending {
		return nil
	}
	return s.markDelivery(ctx, k, `UPDATE outbox SET state = ?, attempts = 0, since = ?, next_attempt = ?, done_at = 0, claimed_until = 0 WHERE event_id = ? AND target = ?`,
		string(store.DeliveryPending), nanos(now), nanos(now), k.EventID, k.Target)
}

func (s *Store) markDelivery(ctx context.Context, k store.DeliveryKey, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update delivery %s to %s: %w", k.EventID, k.Target, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update delivery %s to %s: %w", k.EventID, k.Target, store.ErrNotFound)
	}
	return nil
}

// DisableEndpoint implements store.Outbox.
func (s *Store) DisableEndpoint(ctx context.Context, target, reason string, at time.Time) error {
	if reason == "" {
		reason = "disabled"
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO disabled_endpoints (target, reason, at) VALUES (?, ?, ?)
		ON CONFLICT (target) DO UPDATE SET reason = excluded.reason, at = excluded.at`, target, reason, nanos(at))
	if err != nil {
		return fmt.Errorf("disable endpoint %s: %w", target, err)
	}
	return nil
}

// EnableEndpoint implements store.Outbox.
func (s *Store) EnableEndpoint(ctx context.Context, target string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM disabled_endpoints WHERE target = ?`, target); err != nil {
		return fmt.Errorf("enable endpoint %s: %w", target, err)
	}
	return nil
}

// DisabledEndpoints implements store.Outbox.
func (s *Store) DisabledEndpoints(ctx context.Context) (map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT target, reason FROM disabled_endpoints`)
	if err != nil {
		return nil, fmt.Errorf("disabled endpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, r string
		if err := rows.Scan(&t, &r); err != nil {
			return nil, fmt.Errorf("disabled endpoints: %w", err)
		}
		out[t] = r
	}
	return out, rows.Err()
}

// Deliveries implements store.Outbox.
func (s *Store) Deliveries(ctx context.Context, analysis string) ([]store.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE analysis_id = ? ORDER BY id`, analysis)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", analysis, err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of %s: %w", analysis, err)
	}
	return out, nil
}

// Delivery implements store.Outbox.
func (s *Store) Delivery(ctx context.Context, id int64) (store.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM outbox WHERE id = ?`, id)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("read delivery %d: %w", id, err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("read delivery %d: %w", id, err)
	}
	if len(out) == 0 {
		return store.Delivery{}, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	}
	return out[0], nil
}

// listColumns are deliveryColumns without the payload, which a list does not carry.
var listColumns = strings.Replace(deliveryColumns, "payload", "x'' AS payload", 1)

// ListDeliveries implements store.Outbox.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = store.DefaultPageSize
	case limit > store.MaxPageSize:
		limit = store.MaxPageSize
	}
	var (
		where []string
		args  []any
	)
	if q.Analysis != "" {
		where, args = append(where, `analysis_id = ?`), append(args, q.Analysis)
	}
	if q.State != "" {
		where, args = append(where, `state = ?`), append(args, string(q.State))
	}
	if q.Target != "" {
		where, args = append(where, `target = ?`), append(args, q.Target)
	}
	if q.After != "" {
		after, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || after <= 0 {
			return store.DeliveryPage{}, fmt.Errorf("invalid page cursor %q", q.After)
		}
		where, args = append(where, `id < ?`), append(args, after)
	}
	query := `SELECT ` + listColumns + ` FROM outbox`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.r.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	ds, err := scanDeliveries(rows)
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT target, state, COUNT(*) FROM outbox GROUP BY target, state ORDER BY target, state`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.DeliveryCount
	for rows.Next() {
		var (
			c     store.DeliveryCount
			state string
		)
		if err := rows.Scan(&c.Target, &state, &c.N); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		c.State = store.DeliveryState(state)
		out = append(out, c)
	}
	return out, rows.Err()
}
