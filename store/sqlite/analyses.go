package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

const analysisColumns = `a.id, a.spec, COALESCE(a.key, ''), a.labels, a.envs, a.baseline, a.candidate, a.state, a.phase, a.created_at, a.updated_at, v.data`

const analysisFrom = ` FROM analyses a LEFT JOIN verdicts v ON v.analysis_id = a.id`

type scanner interface{ Scan(dest ...any) error }

func scanAnalysis(row scanner) (store.Analysis, error) {
	var (
		a            store.Analysis
		labels, envs string
		state, phase string
		created, upd int64
		verdictJSON  sql.NullString
	)
	if err := row.Scan(&a.ID, &a.Spec, &a.Key, &labels, &envs, &a.Baseline, &a.Candidate, &state, &phase, &created, &upd, &verdictJSON); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
		return a, fmt.Errorf("analysis %s: labels: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(envs), &a.Envs); err != nil {
		return a, fmt.Errorf("analysis %s: environments: %w", a.ID, err)
	}
	a.State, a.Phase = verdict.Decision(state), verdict.Phase(phase)
	a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(upd)
	if verdictJSON.Valid {
		a.Verdict = json.RawMessage(verdictJSON.String)
	}
	return a, nil
}

// CreateAnalysis implements store.Analyses.
func (s *Store) CreateAnalysis(ctx context.Context, a store.Analysis, outbox ...store.Delivery) (store.Analysis, bool, error) {
	if a.ID == "" {
		return a, false, errors.New("create analysis: no id")
	}
	labels, err := jsonMap(a.Labels)
	if err != nil {
		return a, false, fmt.Errorf("create analysis: %w", err)
	}
	envs, err := jsonMap(a.Envs)
	if err != nil {
		return a, false, fmt.Errorf("create analysis: %w", err)
	}
	if a.State == "" {
		a.State = verdict.Running
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	var key any
	if a.Key != "" {
		key = a.Key
	}
	created := false
	if a.Owner != "" {
		// Held across the commit: ExpiredLeases never sees the new analysis without its lease.
		s.leases.mu.Lock()
		defer s.leases.mu.Unlock()
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO analyses (id, spec, key, labels, envs, baseline, candidate, state, phase, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			a.ID, a.Spec, key, labels, envs, a.Baseline, a.Candidate, string(a.State), string(a.Phase), nanos(a.CreatedAt), nanos(a.UpdatedAt))
		if err != nil {
			if isConstraint(err) {
				return fmt.Errorf("%w: analysis %s", store.ErrExists, a.ID)
			}
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // the key is taken: the caller gets that analysis
		}
		created = true
		for name, value := range a.Labels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO analysis_labels (analysis_id, name, value) VALUES (?, ?, ?)`, a.ID, name, value); err != nil {
				return err
			}
		}
		for _, d := range outbox {
			if err := enqueue(ctx, tx, d, a.ID, a.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return a, false, fmt.Errorf("create analysis: %w", err)
	}
	if created && a.Owner != "" {
		s.leases.set(a.ID, lease{owner: a.Owner, expires: a.LeaseUntil})
	}
	var stored store.Analysis
	if created {
		stored, err = s.analysis(ctx, s.w, `a.id = ?`, a.ID)
	} else {
		stored, err = s.analysis(ctx, s.w, `a.key = ?`, a.Key)
	}
	return stored, created, err
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) analysis(ctx context.Context, db querier, where string, arg any) (store.Analysis, error) {
	a, err := scanAnalysis(db.QueryRowContext(ctx, `SELECT `+analysisColumns+analysisFrom+` WHERE `+where, arg))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return a, fmt.Errorf("analysis %v: %w", arg, store.ErrNotFound)
	case err != nil:
		return a, fmt.Errorf("read analysis: %w", err)
	}
	return a, nil
}

// Analysis implements store.Analyses.
func (s *Store) Analysis(ctx context.Context, id string) (store.Analysis, error) {
	return s.analysis(ctx, s.r, `a.id = ?`, id)
}

// AnalysisByKey implements store.Analyses.
func (s *Store) AnalysisByKey(ctx context.Context, key string) (store.Analysis, error) {
	if key == "" {
		return store.Analysis{}, fmt.Errorf("analysis by key: empty key: %w", store.ErrNotFound)
	}
	return s.analysis(ctx, s.r, `a.key = ?`, key)
}

// ListAnalyses implements store.Analyses.
func (s *Store) ListAnalyses(ctx context.Context, q store.Query) (store.Page, error) {
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
	if q.State != "" {
		where, args = append(where, `a.state = ?`), append(args, string(q.State))
	}
	if q.Spec != "" {
		where, args = append(where, `a.spec = ?`), append(args, q.Spec)
	}
	names := make([]string, 0, len(q.Labels))
	for k := range q.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		where = append(where, `EXISTS (SELECT 1 FROM analysis_labels l WHERE l.analysis_id = a.id AND l.name = ? AND l.value = ?)`)
		args = append(args, k, q.Labels[k])
	}
	if q.After != "" {
		created, id, err := decodeCursor(q.After)
		if err != nil {
			return store.Page{}, err
		}
		where = append(where, `(a.created_at < ? OR (a.created_at = ? AND a.id < ?))`)
		args = append(args, created, created, id)
	}
	query := `SELECT ` + analysisColumns + analysisFrom
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY a.created_at DESC, a.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("list analyses: %w", err)
	}
	defer rows.Close()
	var page store.Page
	for rows.Next() {
		a, err := scanAnalysis(rows)
		if err != nil {
			return store.Page{}, fmt.Errorf("list analyses: %w", err)
		}
		page.Analyses = append(page.Analyses, a)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("list analyses: %w", err)
	}
	if len(page.Analyses) > limit {
		page.Analyses = page.Analyses[:limit]
		page.Next = encodeCursor(page.Analyses[limit-1])
	}
	return page, nil
}

// SetPhase implements store.Analyses.
func (s *Store) SetPhase(ctx context.Context, id string, phase verdict.Phase, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE analyses SET phase = ?, updated_at = ? WHERE id = ?`, string(phase), nanos(at), id)
	if err != nil {
		return fmt.Errorf("set phase of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set phase of %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// CountAnalyses implements store.Analyses.
func (s *Store) CountAnalyses(ctx context.Context) (map[verdict.Decision]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM analyses GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count analyses: %w", err)
	}
	defer rows.Close()
	out := map[verdict.Decision]int{}
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count analyses: %w", err)
		}
		out[verdict.Decision(state)] = n
	}
	return out, rows.Err()
}
