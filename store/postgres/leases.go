package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlight/greenlight/verdict"
)

// AcquireLease implements store.Leases: one upsert, which PostgreSQL applies to the row
// atomically, so that of two replicas taking a free or expired lease at once one gets it.
func (s *Store) AcquireLease(ctx context.Context, analysis, owner string, ttl time.Duration, now time.Time) (bool, error) {
	tag, err := s.leases.Exec(ctx, `INSERT INTO leases (analysis_id, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (analysis_id) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
		WHERE leases.owner = EXCLUDED.owner OR leases.expires <= $4`,
		analysis, owner, nanos(now.Add(ttl)), nanos(now))
	if err != nil {
		if sqlState(err) == foreignKeyViolation {
			return false, fmt.Errorf("lease of %s: no such analysis", analysis)
		}
		return false, fmt.Errorf("lease of %s: %w", analysis, s.scrub(err))
	}
	return tag.RowsAffected() == 1, nil
}

// RenewLeases implements store.Leases.
func (s *Store) RenewLeases(ctx context.Context, owner string, analyses []string, ttl time.Duration, now time.Time) ([]string, error) {
	if len(analyses) == 0 {
		return nil, nil
	}
	rows, err := s.leases.Query(ctx, `UPDATE leases SET expires = $1 WHERE owner = $2 AND analysis_id = ANY($3) RETURNING analysis_id`,
		nanos(now.Add(ttl)), owner, analyses)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", s.scrub(err))
	}
	defer rows.Close()
	kept := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("renew leases: %w", s.scrub(err))
		}
		kept[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("renew leases: %w", s.scrub(err))
	}
	var lost []string
	for _, id := range analyses {
		if !kept[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, analysis, owner string) error {
	if _, err := s.leases.Exec(ctx, `DELETE FROM leases WHERE analysis_id = $1 AND owner = $2`, analysis, owner); err != nil {
		return fmt.Errorf("release lease of %s: %w", analysis, s.scrub(err))
	}
	return nil
}

// ExpiredLeases implements store.Leases.
func (s *Store) ExpiredLeases(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.leases.Query(ctx, `SELECT a.id FROM analyses a LEFT JOIN leases l ON l.analysis_id = a.id
		WHERE a.state = $1 AND (l.analysis_id IS NULL OR l.expires <= $2)
		ORDER BY a.created_at, a.id LIMIT $3`, string(verdict.Running), nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("expired leases: %w", s.scrub(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("expired leases: %w", s.scrub(err))
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expired leases: %w", s.scrub(err))
	}
	return out, nil
}
