package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

const analysisColumns = `a.id, a.spec, COALESCE(a.key, ''), a.labels, a.envs, a.baseline, a.candidate, a.state, a.phase, a.created_at, a.updated_at, v.data`

const analysisFrom = ` FROM analyses a LEFT JOIN verdicts v ON v.analysis_id = a.id`

func scanAnalysis(row pgx.Row) (store.Analysis, error) {
	var (
		a            store.Analysis
		labels, envs string
		state, phase string
		created, upd int64
		verdictJSON  *string
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
	if verdictJSON != nil {
		a.Verdict = json.RawMessage(*verdictJSON)
	}
	return a, nil
}

// CreateAnalysis implements store.Analyses. A start racing another with the same key waits on
// the key's unique index until the other commits, then inserts nothing and reads the other's.
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
	var key *string
	if a.Key != "" {
		key = &a.Key
	}
	created := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO analyses (id, spec, key, labels, envs, baseline, candidate, state, phase, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (key) DO NOTHING`,
			a.ID, a.Spec, key, labels, envs, a.Baseline, a.Candidate, string(a.State), string(a.Phase), nanos(a.CreatedAt), nanos(a.UpdatedAt))
		if err != nil {
			if sqlState(err) == uniqueViolation {
				return fmt.Errorf("%w: analysis %s", store.ErrExists, a.ID)
			}
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // the key is taken: the caller gets that analysis
		}
		created = true
		for name, value := range a.Labels {
			if _, err := tx.Exec(ctx, `INSERT INTO analysis_labels (analysis_id, name, value) VALUES ($1, $2, $3)`, a.ID, name, value); err != nil {
				return err
			}
		}
		if a.Owner != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO leases (analysis_id, owner, expires) VALUES ($1, $2, $3)`, a.ID, a.Owner, nanos(a.LeaseUntil)); err != nil {
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
		return a, false, fmt.Errorf("create analysis: %w", s.scrub(err))
	}
	var stored store.Analysis
	if created {
		stored, err = s.analysis(ctx, s.pool, `a.id = $1`, a.ID)
	} else {
		stored, err = s.analysis(ctx, s.pool, `a.key = $1`, a.Key)
	}
	return stored, created, err
}

// scrub keeps err (for errors.Is) with its message's password redacted.
func (s *Store) scrub(err error) error {
	if err == nil {
		return nil
	}
	if msg := s.redact(err.Error()); msg != err.Error() {
		return &redacted{msg: msg, err: err}
	}
	return err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Store) analysis(ctx context.Context, db querier, where string, arg any) (store.Analysis, error) {
	a, err := scanAnalysis(db.QueryRow(ctx, `SELECT `+analysisColumns+analysisFrom+` WHERE `+where, arg))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return a, fmt.Errorf("analysis %v: %w", arg, store.ErrNotFound)
	case err != nil:
		return a, fmt.Errorf("read analysis: %w", s.scrub(err))
	}
	return a, nil
}

// Analysis implements store.Analyses.
func (s *Store) Analysis(ctx context.Context, id string) (store.Analysis, error) {
	return s.analysis(ctx, s.pool, `a.id = $1`, id)
}

// AnalysisByKey implements store.Analyses.
func (s *Store) AnalysisByKey(ctx context.Context, key string) (store.Analysis, error) {
	if key == "" {
		return store.Analysis{}, fmt.Errorf("analysis by key: empty key: %w", store.ErrNotFound)
	}
	return s.analysis(ctx, s.pool, `a.key = $1`, key)
}

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return store.DefaultPageSize
	case limit > store.MaxPageSize:
		return store.MaxPageSize
	}
	return limit
}

// ListAnalyses implements store.Analyses.
func (s *Store) ListAnalyses(ctx context.Context, q store.Query) (store.Page, error) {
	limit := pageLimit(q.Limit)
	var (
		where []string
		a     args
	)
	if q.State != "" {
		where = append(where, `a.state = `+a.add(string(q.State)))
	}
	if q.Spec != "" {
		where = append(where, `a.spec = `+a.add(q.Spec))
	}
	names := make([]string, 0, len(q.Labels))
	for k := range q.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		where = append(where, `EXISTS (SELECT 1 FROM analysis_labels l WHERE l.analysis_id = a.id AND l.name = `+a.add(k)+` AND l.value = `+a.add(q.Labels[k])+`)`)
	}
	if q.After != "" {
		created, id, err := decodeCursor(q.After)
		if err != nil {
			return store.Page{}, err
		}
		c := a.add(created)
		where = append(where, `(a.created_at < `+c+` OR (a.created_at = `+c+` AND a.id < `+a.add(id)+`))`)
	}
	query := `SELECT ` + analysisColumns + analysisFrom
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY a.created_at DESC, a.id DESC LIMIT ` + a.add(limit+1)
	rows, err := s.pool.Query(ctx, query, a...)
	if err != nil {
		return store.Page{}, fmt.Errorf("list analyses: %w", s.scrub(err))
	}
	defer rows.Close()
	var page store.Page
	for rows.Next() {
		an, err := scanAnalysis(rows)
		if err != nil {
			return store.Page{}, fmt.Errorf("list analyses: %w", s.scrub(err))
		}
		page.Analyses = append(page.Analyses, an)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("list analyses: %w", s.scrub(err))
	}
	if len(page.Analyses) > limit {
		page.Analyses = page.Analyses[:limit]
		page.Next = encodeCursor(page.Analyses[limit-1])
	}
	return page, nil
}

// SetPhase implements store.Analyses.
func (s *Store) SetPhase(ctx context.Context, id string, phase verdict.Phase, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE analyses SET phase = $1, updated_at = $2 WHERE id = $3`, string(phase), nanos(at), id)
	if err != nil {
		return fmt.Errorf("set phase of %s: %w", id, s.scrub(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set phase of %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// CountAnalyses implements store.Analyses.
func (s *Store) CountAnalyses(ctx context.Context) (map[verdict.Decision]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, COUNT(*) FROM analyses GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count analyses: %w", s.scrub(err))
	}
	defer rows.Close()
	out := map[verdict.Decision]int{}
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count analyses: %w", s.scrub(err))
		}
		out[verdict.Decision(state)] = n
	}
	return out, s.scrub(rows.Err())
}
