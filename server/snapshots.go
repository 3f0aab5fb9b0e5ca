package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/store"
)

// Snapshots is the store as the engine's snapshot sink: each analysis's latest state (saved
// every few ticks, at each phase change, at the verdict and at shutdown) as JSON, the latest
// wins. New hands it to the engine unless Options.Engine names another; Resume reads it back.
func (s *Server) Snapshots() analysis.SnapshotSink { return snapshotSink{s} }

type snapshotSink struct{ s *Server }

func (k snapshotSink) SaveSnapshot(ctx context.Context, snap *analysis.Snapshot) error {
	if k.s.leaseLost(snap.ID) {
		return nil // the replica that took it over saves its own
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", snap.ID, err)
	}
	return k.s.o.Store.PutSnapshot(ctx, store.Snapshot{Analysis: snap.ID, Data: data, At: k.s.now()})
}

// storedSnapshot is an analysis's latest snapshot from the store; nil when it has none or the
// one stored cannot be read (logged: the analysis then starts again from nothing).
func (s *Server) storedSnapshot(ctx context.Context, id string) (*analysis.Snapshot, error) {
	rec, err := s.o.Store.Snapshot(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	var snap analysis.Snapshot
	if err := json.Unmarshal(rec.Data, &snap); err != nil {
		s.log.Warn("cannot read an analysis's snapshot: it starts again", "analysis", id, "error", err)
		return nil, nil
	}
	if snap.ID != id {
		s.log.Warn("an analysis's snapshot is another's: it starts again", "analysis", id, "snapshot", snap.ID)
		return nil, nil
	}
	return &snap, nil
}
