package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
)

// AppendEvents implements store.Events.
func (s *Store) AppendEvents(ctx context.Context, evs []store.Event, keep int, outbox ...store.Delivery) error {
	if len(evs) == 0 && len(outbox) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := appendEvents(ctx, tx, evs, keep); err != nil {
			return err
		}
		if err := notifyChanges(ctx, tx, evs, ""); err != nil {
			return err
		}
		for _, d := range outbox {
			if err := enqueue(ctx, tx, d, d.Analysis, d.Timestamp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append events: %w", s.scrub(err))
	}
	return nil
}

// appendEvents inserts events, sets their IDs, and prunes the analyses they belong to. The
// transaction first takes the events' advisory lock (held until it ends): the IDs it draws are
// then committed after every smaller one, so that AllEventsAfter never passes over an event
// still to be committed.
func appendEvents(ctx context.Context, tx pgx.Tx, evs []store.Event, keep int) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventsLock)); err != nil {
		return err
	}
	newest := map[string]uint64{}
	for i := range evs {
		e := &evs[i]
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		err := tx.QueryRow(ctx, `INSERT INTO events (analysis_id, seq, time, kind, data) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			e.Analysis, int64(e.Seq), nanos(e.Time), e.Kind, data).Scan(&e.ID)
		if err != nil {
			if st := sqlState(err); st == uniqueViolation || st == foreignKeyViolation {
				return fmt.Errorf("event %s#%d: %w (a duplicate sequence number, or no such analysis)", e.Analysis, e.Seq, err)
			}
			return err
		}
		newest[e.Analysis] = max(newest[e.Analysis], e.Seq)
	}
	if keep <= 0 {
		return nil
	}
	for id, seq := range newest {
		if seq <= uint64(keep) {
			continue
		}
		// Keep the newest keep sequence numbers: with gapless numbering, those after seq-keep.
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE analysis_id = $1 AND seq <= $2`, id, int64(seq)-int64(keep)); err != nil {
			return err
		}
	}
	return nil
}

func scanEvents(rows pgx.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e    store.Event
			seq  int64
			at   int64
			data string
		)
		if err := rows.Scan(&e.ID, &e.Analysis, &seq, &at, &e.Kind, &data); err != nil {
			return nil, err
		}
		e.Seq, e.Time, e.Data = uint64(seq), fromNanos(at), []byte(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventsAfter implements store.Events.
func (s *Store) EventsAfter(ctx context.Context, analysis string, afterSeq uint64, limit int) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, analysis_id, seq, time, kind, data FROM events WHERE analysis_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		analysis, int64(afterSeq), eventLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", analysis, s.scrub(err))
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", analysis, s.scrub(err))
	}
	return evs, nil
}

// AllEventsAfter implements store.Events.
func (s *Store) AllEventsAfter(ctx context.Context, afterID int64, limit int) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, analysis_id, seq, time, kind, data FROM events WHERE id > $1 ORDER BY id LIMIT $2`, afterID, eventLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", s.scrub(err))
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", s.scrub(err))
	}
	return evs, nil
}

// LastSeq implements store.Events.
func (s *Store) LastSeq(ctx context.Context, analysis string) (uint64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events WHERE analysis_id = $1`, analysis).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last event of %s: %w", analysis, s.scrub(err))
	}
	return uint64(seq), nil
}

// ThinEvents implements store.Events.
func (s *Store) ThinEvents(ctx context.Context, analysis, kind string, keep int) error {
	if keep <= 0 {
		keep = 1
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM events WHERE id IN (
		SELECT id FROM (
			SELECT id, ROW_NUMBER() OVER (ORDER BY seq) - 1 AS i, COUNT(*) OVER () AS n
			FROM events WHERE analysis_id = $1 AND kind = $2) numbered
		WHERE n > $3 AND i < n - 1 AND i % ((n + $4 - 1) / $4) != 0)`, analysis, kind, int64(keep+1), int64(keep))
	if err != nil {
		return fmt.Errorf("thin the %s events of %s: %w", kind, analysis, s.scrub(err))
	}
	return nil
}

// PutSnapshot implements store.Snapshots.
func (s *Store) PutSnapshot(ctx context.Context, snap store.Snapshot) error {
	data := snap.Data
	if data == nil {
		data = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO snapshots (analysis_id, data, at) VALUES ($1, $2, $3)
		ON CONFLICT (analysis_id) DO UPDATE SET data = excluded.data, at = excluded.at`, snap.Analysis, data, nanos(snap.At))
	if err != nil {
		return fmt.Errorf("put snapshot of %s: %w", snap.Analysis, s.scrub(err))
	}
	return nil
}

// Snapshot implements store.Snapshots.
func (s *Store) Snapshot(ctx context.Context, analysis string) (store.Snapshot, error) {
	snap := store.Snapshot{Analysis: analysis}
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT data, at FROM snapshots WHERE analysis_id = $1`, analysis).Scan(&snap.Data, &at)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return snap, fmt.Errorf("snapshot of %s: %w", analysis, store.ErrNotFound)
	case err != nil:
		return snap, fmt.Errorf("snapshot of %s: %w", analysis, s.scrub(err))
	}
	snap.At = fromNanos(at)
	return snap, nil
}
