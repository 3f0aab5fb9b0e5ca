package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// keepAll: the events written with a verdict do not prune (the events' own writer does).
const keepAll = 0

// RecordVerdict implements store.Verdicts.
func (s *Store) RecordVerdict(ctx context.Context, v store.Verdict, events []store.Event, outbox []store.Delivery) error {
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO verdicts (analysis_id, decision, data, at, revision) VALUES (?, ?, ?, ?, 1)`,
			v.Analysis, string(v.Decision), string(v.Data), nanos(v.At))
		if isConstraint(err) {
			var n int
			if tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM verdicts WHERE analysis_id = ?`, v.Analysis).Scan(&n) == nil && n > 0 {
				return store.ErrDecided
			}
			return fmt.Errorf("%w: analysis %s", store.ErrNotFound, v.Analysis)
		}
		if err != nil {
			return err
		}
		return afterVerdict(ctx, tx, v, events, outbox)
	})
	if err != nil {
		return fmt.Errorf("record verdict of %s: %w", v.Analysis, err)
	}
	return nil
}

// afterVerdict sets the analysis's state and writes the events and deliveries of a verdict.
func afterVerdict(ctx context.Context, tx *sql.Tx, v store.Verdict, events []store.Event, outbox []store.Delivery) error {
	res, err := tx.ExecContext(ctx, `UPDATE analyses SET state = ?, updated_at = ? WHERE id = ?`, string(v.Decision), nanos(v.At), v.Analysis)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: analysis %s", store.ErrNotFound, v.Analysis)
	}
	if err := appendEvents(ctx, tx, events, keepAll); err != nil {
		return err
	}
	for i := range outbox {
		if err := enqueue(ctx, tx, &outbox[i], v); err != nil {
			return err
		}
	}
	return nil
}

func enqueue(ctx context.Context, tx *sql.Tx, d *store.Delivery, v store.Verdict) error {
	if d.Analysis == "" {
		d.Analysis = v.Analysis
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = v.At
	}
	if d.NextAttempt.IsZero() {
		d.NextAttempt = d.CreatedAt
	}
	d.State = store.DeliveryPending
	payload := string(d.Payload)
	if payload == "" {
		payload = "null"
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO outbox (analysis_id, event_id, target, payload, state, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.Analysis, d.EventID, d.Target, payload, string(d.State), nanos(d.NextAttempt), nanos(d.CreatedAt)).Scan(&d.ID)
	if isConstraint(err) {
		return fmt.Errorf("delivery %s: %w (its event id is taken)", d.EventID, err)
	}
	return err
}

// ReviseVerdict implements store.Verdicts.
func (s *Store) ReviseVerdict(ctx context.Context, v store.Verdict, audit store.AuditEntry, events []store.Event, outbox []store.Delivery) (store.Verdict, error) {
	var out store.Verdict
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE verdicts SET decision = ?, data = ?, revision = revision + 1 WHERE analysis_id = ?`,
			string(v.Decision), string(v.Data), v.Analysis)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: analysis %s has no verdict to revise", store.ErrNotFound, v.Analysis)
		}
		audit.Analysis = v.Analysis
		if _, err := appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		at := v.At
		if at.IsZero() {
			at = audit.At
		}
		v.At = at
		if err := afterVerdict(ctx, tx, v, events, outbox); err != nil {
			return err
		}
		out, err = readVerdict(ctx, tx, v.Analysis)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("revise verdict of %s: %w", v.Analysis, err)
	}
	return out, nil
}

func readVerdict(ctx context.Context, db querier, analysis string) (store.Verdict, error) {
	v := store.Verdict{Analysis: analysis}
	var (
		decision, data string
		at             int64
	)
	err := db.QueryRowContext(ctx, `SELECT decision, data, at, revision FROM verdicts WHERE analysis_id = ?`, analysis).Scan(&decision, &data, &at, &v.Revision)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, fmt.Errorf("verdict of %s: %w", analysis, store.ErrNotFound)
	case err != nil:
		return v, fmt.Errorf("verdict of %s: %w", analysis, err)
	}
	v.Decision, v.Data, v.At = verdict.Decision(decision), []byte(data), fromNanos(at)
	return v, nil
}

// Verdict implements store.Verdicts.
func (s *Store) Verdict(ctx context.Context, analysis string) (store.Verdict, error) {
	return readVerdict(ctx, s.r, analysis)
}

func appendAudit(ctx context.Context, tx *sql.Tx, e store.AuditEntry) (store.AuditEntry, error) {
	err := tx.QueryRowContext(ctx, `INSERT INTO audit (analysis_id, action, decision, by_whom, token, why, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.Analysis, e.Action, string(e.Decision), e.By, e.Token, e.Why, nanos(e.At)).Scan(&e.ID)
	if isConstraint(err) {
		return e, fmt.Errorf("%w: analysis %s", store.ErrNotFound, e.Analysis)
	}
	return e, err
}

// AppendAudit implements store.Audit.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return e, fmt.Errorf("append audit entry: %w", err)
	}
	return e, nil
}

// AuditLog implements store.Audit.
func (s *Store) AuditLog(ctx context.Context, analysis string) ([]store.AuditEntry, error) {
	q := `SELECT id, analysis_id, action, decision, by_whom, token, why, at FROM audit`
	var args []any
	if analysis != "" {
		q += ` WHERE analysis_id = ?`
		args = append(args, analysis)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e        store.AuditEntry
			decision string
			at       int64
		)
		if err := rows.Scan(&e.ID, &e.Analysis, &e.Action, &decision, &e.By, &e.Token, &e.Why, &at); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.Decision, e.At = verdict.Decision(decision), fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, analysis_id, event_id, target, payload, state, attempts, last_error, next_attempt, claimed_until, created_at, delivered_at`

func scanDeliveries(rows *sql.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var (
			d                                   store.Delivery
			payload, state                      string
			next, claimed, created, deliveredAt int64
		)
		if err := rows.Scan(&d.ID, &d.Analysis, &d.EventID, &d.Target, &payload, &state, &d.Attempts, &d.LastError, &next, &claimed, &created, &deliveredAt); err != nil {
			return nil, err
		}
		d.Payload, d.State = []byte(payload), store.DeliveryState(state)
		d.NextAttempt, d.ClaimedUntil, d.CreatedAt, d.DeliveredAt = fromNanos(next), fromNanos(claimed), fromNanos(created), fromNanos(deliveredAt)
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements store.Outbox.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []store.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET claimed_until = ?
			WHERE id IN (SELECT id FROM outbox WHERE state = ? AND next_attempt <= ? AND claimed_until <= ? ORDER BY next_attempt, id LIMIT ?)
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
	return out, nil
}

// MarkDelivered implements store.Outbox.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.markDelivery(ctx, id, `UPDATE outbox SET state = ?, delivered_at = ?, attempts = attempts + 1, claimed_until = 0 WHERE id = ?`,
		string(store.DeliveryDelivered), nanos(at), id)
}

// MarkFailed implements store.Outbox.
func (s *Store) MarkFailed(ctx context.Context, id int64, lastError string, next time.Time, giveUp bool) error {
	state := store.DeliveryPending
	if giveUp {
		state = store.DeliveryFailed
	}
	return s.markDelivery(ctx, id, `UPDATE outbox SET state = ?, last_error = ?, next_attempt = ?, attempts = attempts + 1, claimed_until = 0 WHERE id = ?`,
		string(state), lastError, nanos(next), id)
}

func (s *Store) markDelivery(ctx context.Context, id int64, q string, args ...any) error {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update delivery %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update delivery %d: %w", id, store.ErrNotFound)
	}
	return nil
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
