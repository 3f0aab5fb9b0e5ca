package server

import (
	"context"
	"fmt"
	"time"
)

// DefaultPruneEvery is how often the daemon deletes the decided analyses older than its
// Retention (and once as it starts).
const DefaultPruneEvery = time.Hour

// pruneBatch bounds the analyses deleted in one transaction: a prune of a year's backlog never
// holds the store for long.
const pruneBatch = 500

// pruner runs the prunes until Shutdown.
type pruner struct {
	cancel context.CancelFunc // nil until Resume starts the loop
	done   chan struct{}
}

// prune deletes, a batch at a time, the decided analyses whose verdict is older than
// Retention, and returns how many. Every replica prunes: the store gives each a different
// batch, and a delete is never made twice.
func (s *Server) prune(ctx context.Context) (int, error) {
	if s.o.Retention <= 0 {
		return 0, nil
	}
	before := s.now().Add(-s.o.Retention)
	total := 0
	for {
		ids, err := s.o.Store.PruneAnalyses(ctx, before, pruneBatch)
		total += len(ids)
		s.metrics.pruned.Add(float64(len(ids)))
		if err != nil {
			return total, fmt.Errorf("prune analyses decided before %s: %w", before.Format(time.RFC3339), err)
		}
		if len(ids) < pruneBatch {
			return total, nil
		}
	}
}

// startPruning prunes now and every PruneEvery until Shutdown, when Retention is set.
func (s *Server) startPruning() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.Retention <= 0 || s.pruner.cancel != nil || s.closing.Load() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.pruner.cancel, s.pruner.done = cancel, make(chan struct{})
	tick := s.o.pruneTick
	var t *time.Ticker
	if tick == nil {
		t = time.NewTicker(s.o.PruneEvery)
		tick = t.C
	}
	go func() {
		defer close(s.pruner.done)
		if t != nil {
			defer t.Stop()
		}
		for {
			n, err := s.prune(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Error("cannot prune decided analyses: they are kept until the next try", "error", err)
			case n > 0:
				s.log.Info("pruned decided analyses", "analyses", n, "retention", s.o.Retention)
			}
			if s.o.pruned != nil {
				s.o.pruned(n, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
		}
	}()
}

// stopPruning ends the prunes and waits for the one in progress.
func (s *Server) stopPruning() {
	s.mu.Lock()
	cancel, done := s.pruner.cancel, s.pruner.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
