package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/greenlight/greenlight/store"
)

// pruneDeletes remove one analysis, what refers to it first; its audit entries stay.
var pruneDeletes = []string{
	`DELETE FROM analysis_labels WHERE analysis_id = ?`,
	`DELETE FROM events WHERE analysis_id = ?`,
	`DELETE FROM snapshots WHERE analysis_id = ?`,
	`DELETE FROM verdicts WHERE analysis_id = ?`,
	`DELETE FROM outbox WHERE analysis_id = ?`,
	`DELETE FROM analyses WHERE id = ?`,
}

// PruneAnalyses implements store.Retention. One writer: the choice and the deletes are one
// transaction that nothing else writes beside.
func (s *Store) PruneAnalyses(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// state <> 'running' as a literal: the partial index analyses_decided answers it.
		rows, err := tx.QueryContext(ctx, `SELECT id FROM analyses a WHERE state <> 'running' AND updated_at < ?
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.analysis_id = a.id AND o.state = ?)
			ORDER BY updated_at, id LIMIT ?`, nanos(before), string(store.DeliveryPending), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for _, id := range ids {
			for _, q := range pruneDeletes {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune analyses: %w", err)
	}
	s.leases.mu.Lock()
	for _, id := range ids {
		delete(s.leases.by, id)
	}
	s.leases.mu.Unlock()
	return ids, nil
}
