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
		evs := make([]store.Event, 0, n)
		var outbox []store.Delivery
		for _, w := range batch {
			evs = append(evs, w.events...)
			outbox = append(outbox, w.outbox...)
		}
		if s.appendEvents(ctx, evs, outbox) && len(outbox) > 0 {
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

// appendEvents commits a batch of events and the deliveries they announce. When the store
// refuses it (the database is away a moment, a failover) it tries again, waiting twice as long
// each time, for up to a lease: the events of analyses this replica still runs, and above all
// the deliveries they carry, are not dropped over a short outage. An analysis whose lease is
// lost meanwhile is left out of the next try (its new owner goes on from its snapshot and writes
// its own events); after a whole lease, or when the daemon stops, the batch is given up, logged.
// Meanwhile writes queue up behind it and then hold up the analyses' writers, never their runs.
func (s *Server) appendEvents(ctx context.Context, evs []store.Event, outbox []store.Delivery) bool {
	err := s.o.Store.AppendEvents(ctx, evs, s.o.EventRetention, outbox...)
	if err == nil {
		return true
	}
	s.log.Warn("cannot store events, trying again", "events", len(evs), "error", err)
	give := time.Now().Add(s.o.LeaseTTL)
	wait := firstWriteRetry
	for !s.closing.Load() && time.Now().Before(give) {
		time.Sleep(wait)
		wait = min(2*wait, maxWriteRetry)
		evs = slices.DeleteFunc(evs, func(e store.Event) bool { return s.leaseLost(e.Analysis) })
		outbox = slices.DeleteFunc(outbox, func(d store.Delivery) bool { return s.leaseLost(d.Analysis) })
		if len(evs) == 0 {
			return false
		}
		if err = s.o.Store.AppendEvents(ctx, evs, s.o.EventRetention, outbox...); err == nil {
			s.log.Info("events stored after a retry", "events", len(evs))
			return true
		}
	}
	s.log.Error("cannot store events, given up", "events", len(evs), "deliveries", len(outbox), "error", err)
	return false
}
