package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// keepAll: the events written with a verdict do not prune (the events' own writer does).
const keepAll = 0

// RecordVerdict implements store.Verdicts. The verdicts table's primary key makes a second
// verdict impossible: a record racing another waits on it, then inserts nothing.
func (s *Store) RecordVerdict(ctx context.Context, v store.Verdict, events []store.Event, outbox []store.Delivery) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO verdicts (analysis_id, decision, data, at, revision) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (analysis_id) DO NOTHING`,
			v.Analysis, string(v.Decision), string(v.Data), nanos(v.At))
		switch {
		case sqlState(err) == foreignKeyViolation:
			return fmt.Errorf("%w: analysis %s", store.ErrNotFound, v.Analysis)
		case err != nil:
			return err
		case tag.RowsAffected() == 0:
			return store.ErrDecided
		}
		return afterVerdict(ctx, tx, v, events, outbox)
	})
	if err != nil {
		return fmt.Errorf("record verdict of %s: %w", v.Analysis, s.scrub(err))
	}
	return nil
}

// afterVerdict sets the analysis's state and writes the events and deliveries of a verdict;
// the listeners hear of it on commit.
func afterVerdict(ctx context.Context, tx pgx.Tx, v store.Verdict, events []store.Event, outbox []store.Delivery) error {
	tag, err := tx.Exec(ctx, `UPDATE analyses SET state = $1, updated_at = $2 WHERE id = $3`, string(v.Decision), nanos(v.At), v.Analysis)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
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
	return notifyChanges(ctx, tx, events, v.Analysis)
}

// ReviseVerdict implements store.Verdicts.
func (s *Store) ReviseVerdict(ctx context.Context, v store.Verdict, audit store.AuditEntry, events []store.Event, outbox []store.Delivery) (store.Verdict, error) {
	var out store.Verdict
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE verdicts SET decision = $1, data = $2, revision = revision + 1 WHERE analysis_id = $3`,
			string(v.Decision), string(v.Data), v.Analysis)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: analysis %s has no verdict to revise", store.ErrNotFound, v.Analysis)
		}
		audit.Analysis = v.Analysis
		if _, err := appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		if v.At.IsZero() {
			v.At = audit.At
		}
		if err := afterVerdict(ctx, tx, v, events, outbox); err != nil {
			return err
		}
		out, err = readVerdict(ctx, tx, v.Analysis)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("revise verdict of %s: %w", v.Analysis, s.scrub(err))
	}
	return out, nil
}

func readVerdict(ctx context.Context, db querier, analysis string) (store.Verdict, error) {
	v := store.Verdict{Analysis: analysis}
	var (
		decision, data string
		at             int64
	)
	err := db.QueryRow(ctx, `SELECT decision, data, at, revision FROM verdicts WHERE analysis_id = $1`, analysis).Scan(&decision, &data, &at, &v.Revision)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return v, fmt.Errorf("verdict of %s: %w", analysis, store.ErrNotFound)
	case err != nil:
		return v, fmt.Errorf("verdict of %s: %w", analysis, err)
	}
	v.Decision, v.Data, v.At = verdict.Decision(decision), []byte(data), fromNanos(at)
	return v, nil
}

// Verdict implements store.Verdicts.
func (s *Store) Verdict(ctx context.Context, analysis string) (store.Verdict, error) {
	v, err := readVerdict(ctx, s.pool, analysis)
	return v, s.scrub(err)
}

func appendAudit(ctx context.Context, tx pgx.Tx, e store.AuditEntry) (store.AuditEntry, error) {
	err := tx.QueryRow(ctx, `INSERT INTO audit (analysis_id, action, decision, by_whom, token, why, at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.Analysis, e.Action, string(e.Decision), e.By, e.Token, e.Why, nanos(e.At)).Scan(&e.ID)
	if sqlState(err) == foreignKeyViolation {
		return e, fmt.Errorf("%w: analysis %s", store.ErrNotFound, e.Analysis)
	}
	return e, err
}

// AppendAudit implements store.Audit.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return e, fmt.Errorf("append audit entry: %w", s.scrub(err))
	}
	return e, nil
}

// AuditLog implements store.Audit.
func (s *Store) AuditLog(ctx context.Context, analysis string) ([]store.AuditEntry, error) {
	q := `SELECT id, analysis_id, action, decision, by_whom, token, why, at FROM audit`
	var a args
	if analysis != "" {
		q += ` WHERE analysis_id = ` + a.add(analysis)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id`, a...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", s.scrub(err))
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
			return nil, fmt.Errorf("read audit log: %w", s.scrub(err))
		}
		e.Decision, e.At = verdict.Decision(decision), fromNanos(at)
		out = append(out, e)
	}
	return out, s.scrub(rows.Err())
}
