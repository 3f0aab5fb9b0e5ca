package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/greenlight/greenlight/verdict"
)

// leases are held in memory: one daemon uses a SQLite file, so every lease is its own, and
// none outlives the process. A daemon that starts again finds every running analysis without
// a lease and resumes it at once.
type leases struct {
	mu sync.Mutex
	by map[string]lease // by analysis
}

type lease struct {
	owner   string
	expires time.Time
}

// AcquireLease implements store.Leases.
func (s *Store) AcquireLease(_ context.Context, analysis, owner string, ttl time.Duration, now time.Time) (bool, error) {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if l, ok := s.leases.by[analysis]; ok && l.owner != owner && l.expires.After(now) {
		return false, nil
	}
	s.leases.set(analysis, lease{owner: owner, expires: now.Add(ttl)})
	return true, nil
}

// set records a lease; mu is held.
func (l *leases) set(analysis string, le lease) {
	if l.by == nil {
		l.by = map[string]lease{}
	}
	l.by[analysis] = le
}

// RenewLeases implements store.Leases.
func (s *Store) RenewLeases(_ context.Context, owner string, analyses []string, ttl time.Duration, now time.Time) ([]string, error) {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	var lost []string
	for _, id := range analyses {
		l, ok := s.leases.by[id]
		if !ok || l.owner != owner {
			lost = append(lost, id)
			continue
		}
		s.leases.by[id] = lease{owner: owner, expires: now.Add(ttl)}
	}
	return lost, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(_ context.Context, analysis, owner string) error {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if l, ok := s.leases.by[analysis]; ok && l.owner == owner {
		delete(s.leases.by, analysis)
	}
	return nil
}

// ExpiredLeases implements store.Leases.
func (s *Store) ExpiredLeases(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM analyses WHERE state = ? ORDER BY created_at, id`, string(verdict.Running))
	if err != nil {
		return nil, fmt.Errorf("expired leases: %w", err)
	}
	defer rows.Close()
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	var out []string
	for rows.Next() && len(out) < limit {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("expired leases: %w", err)
		}
		if l, ok := s.leases.by[id]; ok && l.expires.After(now) {
			continue
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expired leases: %w", err)
	}
	return out, nil
}
