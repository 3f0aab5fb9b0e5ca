package server

import (
	"context"
	"slices"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// write is what one analysis's writer hands the events writer: its events in order, the phase
// they entered (if any), and done, closed once they are committed (nil when nobody waits).
type write struct {
	analysis string
	events   []store.Event
	outbox   []store.Delivery // deliveries the events announce, committed with them
	phase    verdict.Phase
	at       time.Time
	done     chan struct{}
}

// Bounds of the events writer.
const (
	writeQueue    = 1024 // writes waiting for the writer; a full queue holds up the analyses' writers, never their runs
	maxWriteBatch = 4096 // events committed in one transaction
)

// writeEvents commits the analyses' events, as many as come within WriteLinger in one
// transaction: with hundreds of analyses ticking every second that is a few commits a second
// rather than hundreds, which is what the store writes (each commit rewrites the pages it
// touches). Writes
// are committed in the order they came, so each analysis's events are stored in sequence
// order, and the store's global order is commit order.
func (s *Server) writeEvents() {
	defer close(s.writerDone)
	ctx := context.Background()
	for w := range s.writes {
		batch := []write{w}
		n := len(w.events)
		// Linger a little for the writes of other analyses, whose ticks are spread over each
		// second: one commit for many.
		linger := time.NewTimer(s.o.WriteLinger)
	more:
		for n < maxWriteBatch {
			select {
			case w, ok := <-s.writes:
				if !ok {
					break more
				}
				batch = append(batch, w)
				n += len(w.events)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		if s.commitWrites(ctx, batch, n) {
			s.dispatcher.Notify()
		}
		for _, w := range batch {
			if w.phase != "" {
				if err := s.o.Store.SetPhase(ctx, w.analysis, w.phase, w.at); err != nil {
					s.log.Error("cannot store a phase", "analysis", w.analysis, "error", err)
				}
			}
		}
		for _, w := range batch {
			s.hub.wake(w.analysis)
			if w.done != nil {
				close(w.done)
			}
		}
	}
}

// Retries of a batch of events the store refused.
const (
	firstWriteRetry = 100 * time.Millisecond
	maxWriteRetry   = 2 * time.Second
)

// commitWrites commits a batch of writes — events and the deliveries they announce — in one
// transaction; true when deliveries were committed. When the store refuses it:
//   - the store cannot be reached (the database is away a moment, a failover): the batch is
//     tried again, waiting twice as long each time, for up to a lease, so that the events of
//     the analyses this replica still runs, and above all their deliveries, survive a short
//     outage. An analysis whose lease is lost meanwhile is left out of the next try (its new
//     owner goes on from its snapshot and writes its own events);
//   - the store answers but refused the batch (one analysis's event already stored, say, by a
//     replica that took it over a moment before this one learnt its lease had expired): each
//     analysis's write is committed alone, and only the ones refused are given up, logged. One
//     analysis's bad write never costs the others theirs.
//
// After a whole lease, or when the daemon stops, the batch is given up, logged. Meanwhile
// writes queue up behind it and then hold up the analyses' writers, never their runs.
func (s *Server) commitWrites(ctx context.Context, batch []write, n int) bool {
	flat := func(ws []write) ([]store.Event, []store.Delivery) {
		evs := make([]store.Event, 0, n)
		var outbox []store.Delivery
		for _, w := range ws {
			evs = append(evs, w.events...)
			outbox = append(outbox, w.outbox...)
		}
		return evs, outbox
	}
	evs, outbox := flat(batch)
	if len(evs) == 0 && len(outbox) == 0 {
		return false
	}
	err := s.o.Store.AppendEvents(ctx, evs, s.o.EventRetention, outbox...)
	if err == nil {
		return len(outbox) > 0
	}
	give := time.Now().Add(s.o.LeaseTTL)
	wait := firstWriteRetry
	for {
		if s.reachable(ctx) {
			return s.commitEach(ctx, batch, err)
		}
		if s.closing.Load() || !time.Now().Before(give) {
			break
		}
		s.log.Warn("cannot store events, trying again", "events", len(evs), "error", err)
		time.Sleep(wait)
		wait = min(2*wait, maxWriteRetry)
		batch = slices.DeleteFunc(batch, func(w write) bool { return s.leaseLost(w.analysis) })
		if evs, outbox = flat(batch); len(evs) == 0 && len(outbox) == 0 {
			return false
		}
		if err = s.o.Store.AppendEvents(ctx, evs, s.o.EventRetention, outbox...); err == nil {
			s.log.Info("events stored after a retry", "events", len(evs))
			return len(outbox) > 0
		}
	}
	s.log.Error("cannot store events, given up", "events", len(evs), "deliveries", len(outbox), "error", err)
	return false
}

// commitEach commits each analysis's write alone, after the store refused them together
// (first): the ones it refuses again are given up, logged.
func (s *Server) commitEach(ctx context.Context, batch []write, first error) bool {
	s.log.Warn("the store refused a batch of events: committing each analysis's alone", "writes", len(batch), "error", first)
	delivered := false
	for _, w := range batch {
		if len(w.events) == 0 && len(w.outbox) == 0 {
			continue
		}
		if err := s.o.Store.AppendEvents(ctx, w.events, s.o.EventRetention, w.outbox...); err != nil {
			s.log.Error("cannot store an analysis's events, given up", "analysis", w.analysis, "events", len(w.events), "deliveries", len(w.outbox), "error", err)
			continue
		}
		delivered = delivered || len(w.outbox) > 0
	}
	return delivered
}

// reachable says whether the store answers a ping.
func (s *Server) reachable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, storeProbeTimeout)
	defer cancel()
	return s.o.Store.Ping(ctx) == nil
}
