package server

import (
	"context"

	"github.com/greenlight/greenlight/store"
)

// SnapshotSink is the seam through which the engine saves each analysis's state (every few
// ticks and at phase changes): an opaque blob per analysis, the latest wins. The daemon hands
// Server.Snapshots to the engine once the engine can save and restore analyses.
type SnapshotSink interface {
	SaveSnapshot(ctx context.Context, analysis string, data []byte) error
}

// Snapshots is the store as a SnapshotSink, stamping each snapshot with the server's clock.
func (s *Server) Snapshots() SnapshotSink { return snapshotSink{s} }

type snapshotSink struct{ s *Server }

func (k snapshotSink) SaveSnapshot(ctx context.Context, analysis string, data []byte) error {
	return k.s.o.Store.PutSnapshot(ctx, store.Snapshot{Analysis: analysis, Data: data, At: k.s.now()})
}
