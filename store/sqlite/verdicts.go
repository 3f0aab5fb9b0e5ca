package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	for _, d := range outbox {
		if err := enqueue(ctx, tx, d, v.Analysis, v.At); err != nil {
			return err
		}
	}
	return nil
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
