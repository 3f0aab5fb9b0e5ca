package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
)

// pruneDeletes remove a batch of analyses, what refers to them first; their audit entries stay.
var pruneDeletes = []string{
	`DELETE FROM analysis_labels WHERE analysis_id = ANY($1)`,
	`DELETE FROM events WHERE analysis_id = ANY($1)`,
	`DELETE FROM snapshots WHERE analysis_id = ANY($1)`,
	`DELETE FROM verdicts WHERE analysis_id = ANY($1)`,
	`DELETE FROM outbox WHERE analysis_id = ANY($1)`,
	`DELETE FROM leases WHERE analysis_id = ANY($1)`,
	`DELETE FROM analyses WHERE id = ANY($1)`,
}

// PruneAnalyses implements store.Retention. The analyses chosen are locked (FOR UPDATE SKIP
// LOCKED): a replica pruning at the same moment takes others, and an override waits and then
// finds none. Their deliveries are locked too before the deletes, so that a redelivery
// committed in between keeps its analysis rather than being deleted with it.
func (s *Store) PruneAnalyses(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var ids []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM analyses a WHERE state <> 'running' AND updated_at < $1
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.analysis_id = a.id AND o.state = $2)
			ORDER BY updated_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`, nanos(before), string(store.DeliveryPending), limit)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
			return err
		}
		// Every delivery of theirs, whatever its state: one a redelivery is changing is waited
		// for and read as that leaves it.
		if _, err := tx.Exec(ctx, `SELECT FROM outbox WHERE analysis_id = ANY($1) FOR UPDATE`, ids); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT DISTINCT analysis_id FROM outbox WHERE analysis_id = ANY($1) AND state = $2`,
			ids, string(store.DeliveryPending))
		if err != nil {
			return err
		}
		pending, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(pending, id) })
		for _, q := range pruneDeletes {
			if _, err := tx.Exec(ctx, q, ids); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune analyses: %w", s.scrub(err))
	}
	return ids, nil
}
