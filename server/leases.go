package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// DefaultLeaseTTL is how long a replica's lease of an analysis lasts unrenewed: how soon
// another replica takes over the analyses of one that died.
const DefaultLeaseTTL = 15 * time.Second

// MinLeaseTTL is the shortest LeaseTTL that makes sense: renewals come every third of it.
const MinLeaseTTL = 300 * time.Millisecond

// takeOverBatch bounds the expired leases read at once.
const takeOverBatch = 100

// errLeaseLost interrupts an analysis whose lease this replica lost (another took it, or it
// could not be renewed in time): it stops here, without a verdict, and another replica goes on
// with it.
var errLeaseLost = errors.New("this replica lost its lease: another goes on with it")

// leases is what this replica knows of its leases.
type leases struct {
	// held are the analyses whose lease this replica holds: renewed on each tick, released
	// when decided or at shutdown.
	held map[string]bool
	// local are the analyses this replica runs or is starting: never taken over from the
	// store meanwhile (a start is claimed before its analysis is stored).
	local map[string]bool
	// lost are local analyses whose lease another replica took: they stop without a verdict,
	// and write nothing more.
	lost map[string]bool
	// renewed is when this replica last renewed its leases (UnixNano; 0 before the lease
	// loop starts): from renewed+LeaseTTL on, its leases may have expired and been taken.
	renewed atomic.Int64

	stop chan struct{} // closed by Shutdown: the lease loop ends
	done chan struct{} // closed when it has
}

// defaultOwner names this replica in the leases: its host name and a random suffix, so that
// a restarted daemon is a new owner.
func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "greenlight"
	}
	return host + "-" + newID()
}

// claimLocal marks an analysis as run here; false when it already is.
func (s *Server) claimLocal(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases.local[id] {
		return false
	}
	s.leases.local[id] = true
	return true
}

// endLocal forgets an analysis that no longer runs here.
func (s *Server) endLocal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases.local, id)
	delete(s.leases.lost, id)
}

// leasesStale says whether this replica's leases may have expired in the store — its last
// renewal is a whole LeaseTTL old — so that another replica may be running its analyses: until
// the lease loop knows (renewed, or fenced off), they write nothing.
func (s *Server) leasesStale() bool {
	at := s.leases.renewed.Load()
	return at != 0 && s.now().Sub(time.Unix(0, at)) >= s.o.LeaseTTL
}

func (s *Server) leaseLost(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leases.lost[id]
}

// acquire takes an analysis's lease for this replica.
func (s *Server) acquire(ctx context.Context, id string) (bool, error) {
	ok, err := s.o.Store.AcquireLease(ctx, id, s.o.Owner, s.o.LeaseTTL, s.now())
	if err != nil || !ok {
		return false, err
	}
	s.holds(id)
	return true, nil
}

// holds records that this replica holds an analysis's lease.
func (s *Server) holds(id string) {
	s.mu.Lock()
	s.leases.held[id] = true
	s.mu.Unlock()
}

// release gives up an analysis's lease (it is decided, or this replica stops).
func (s *Server) release(ctx context.Context, id string) {
	s.mu.Lock()
	held := s.leases.held[id]
	delete(s.leases.held, id)
	s.mu.Unlock()
	if !held {
		return
	}
	if err := s.o.Store.ReleaseLease(ctx, id, s.o.Owner); err != nil {
		s.log.Warn("cannot release a lease: it expires instead", "analysis", id, "error", err)
	}
}

// renew extends this replica's leases; the analyses whose lease another replica took stop
// here, without a verdict.
func (s *Server) renew(ctx context.Context) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.leases.held))
	for id := range s.leases.held {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	lost, err := s.o.Store.RenewLeases(ctx, s.o.Owner, ids, s.o.LeaseTTL, s.now())
	if err != nil {
		return err
	}
	for _, id := range lost {
		s.mu.Lock()
		delete(s.leases.held, id)
		run := s.leases.local[id]
		if run {
			s.leases.lost[id] = true
		}
		s.mu.Unlock()
		if !run {
			continue
		}
		s.log.Warn("lost the lease of an analysis: it stops here and another replica goes on with it", "analysis", id)
		if err := s.engine.Interrupt(id, errLeaseLost); err != nil {
			s.log.Debug("the analysis had already stopped", "analysis", id, "error", err)
		}
	}
	return nil
}

// takeOver takes the lease of every running analysis no replica holds (its owner died, or
// this daemon starts) and resumes it here from its snapshot. It returns how many it took.
// After until (unless zero) it takes no more, so that the lease loop renews its own leases in
// time; the rest wait for its next tick.
func (s *Server) takeOver(ctx context.Context, until time.Time) (int, error) {
	taken := 0
	for {
		s.mu.Lock()
		limit := takeOverBatch + len(s.leases.local) // the local ones are skipped
		s.mu.Unlock()
		ids, err := s.o.Store.ExpiredLeases(ctx, s.now(), limit)
		if err != nil {
			return taken, fmt.Errorf("take over analyses: %w", err)
		}
		progress := false
		for _, id := range ids {
			if !until.IsZero() && time.Now().After(until) {
				return taken, nil
			}
			took, err := s.takeOne(ctx, id)
			if err != nil {
				// One analysis that cannot be resumed (a spec no longer loaded, a store
				// error) must not hold up the others' takeover.
				s.log.Error("cannot take over an analysis", "analysis", id, "error", err)
				continue
			}
			if took {
				taken++
				progress = true
				if s.o.tookOver != nil {
					s.o.tookOver(id)
				}
			}
		}
		// Each round takes at least one more lease, or ends.
		if !progress || len(ids) < limit {
			return taken, nil
		}
	}
}

// takeOne takes one analysis's lease and resumes it; false when another replica took it
// first, it runs here already, or it was decided meanwhile.
func (s *Server) takeOne(ctx context.Context, id string) (bool, error) {
	if !s.claimLocal(id) {
		return false, nil
	}
	ok, err := s.acquire(ctx, id)
	if err != nil || !ok {
		s.endLocal(id)
		if err != nil {
			return false, fmt.Errorf("take over %s: %w", id, err)
		}
		return false, nil
	}
	rec, err := s.o.Store.Analysis(ctx, id)
	if err == nil && rec.State != verdict.Running {
		err = errDecided
	}
	if err == nil {
		// It runs here now, or resume recorded it as interrupted (which released it).
		err = s.resume(ctx, rec)
	}
	if err != nil {
		s.endLocal(id)
		s.release(ctx, id)
		if errors.Is(err, errDecided) || errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	// Commands asked while no replica ran it (its owner died) are carried out now.
	go s.runCommands(id)
	return true, nil
}

var errDecided = errors.New("decided")

// runLeases renews this replica's leases and takes over the expired ones every third of
// LeaseTTL, until Shutdown. A replica that cannot reach the store for a whole LeaseTTL stops
// its analyses: others may have taken them over meanwhile.
func (s *Server) runLeases() {
	defer close(s.leases.done)
	// Ended by Shutdown: a takeover in progress stops.
	loop, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		select {
		case <-s.leases.stop:
			stop()
		case <-loop.Done():
		}
	}()
	takeovers := make(chan struct{})
	go func() {
		defer close(takeovers)
		s.runTakeovers(loop)
	}()
	defer func() { <-takeovers }() // after stop, below
	every := max(s.o.LeaseTTL/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := s.now()
	s.leases.renewed.Store(renewed.UnixNano())
	for {
		select {
		case <-loop.Done():
			return
		case <-t.C:
		}
		// A renewal later than the next tick is as good as lost.
		ctx, cancel := context.WithTimeout(loop, every)
		err := s.renew(ctx)
		cancel()
		if err != nil {
			s.log.Error("cannot renew leases", "error", err)
			if s.now().Sub(renewed) >= s.o.LeaseTTL {
				s.fence()
			}
		} else {
			renewed = s.now()
			s.leases.renewed.Store(renewed.UnixNano())
		}
	}
}

// runTakeovers looks for expired leases every third of LeaseTTL and takes those analyses over,
// until Shutdown. It runs beside the renewals, never in their way: resuming hundreds of
// analyses of a dead replica on a busy machine takes longer than a lease, and renewals held up
// meanwhile would cost this replica its own analyses.
func (s *Server) runTakeovers(loop context.Context) {
	every := max(s.o.LeaseTTL/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-loop.Done():
			return
		case <-t.C:
		}
		if n, err := s.takeOver(loop, time.Time{}); err != nil {
			s.log.Error("cannot take over analyses", "error", err)
		} else if n > 0 {
			s.log.Info("took over analyses whose lease had expired", "analyses", n)
		}
	}
}

// fence stops every analysis this replica runs: its leases are expired, so another replica
// may run them already.
func (s *Server) fence() {
	s.mu.Lock()
	var ids []string
	for id := range s.leases.local {
		if !s.leases.lost[id] {
			s.leases.lost[id] = true
			ids = append(ids, id)
		}
	}
	clear(s.leases.held)
	s.mu.Unlock()
	for _, id := range ids {
		s.log.Warn("could not renew the lease of an analysis in time: it stops here, another replica goes on with it", "analysis", id)
		_ = s.engine.Interrupt(id, errLeaseLost)
	}
}

// stopLeases ends the lease loop (if Resume started it) and waits for it.
func (s *Server) stopLeases() {
	s.leaseOnce.Do(func() {
		close(s.leases.stop)
		if s.leaseStarted.Load() {
			<-s.leases.done
		}
	})
}

// releaseAll gives up every lease this replica holds, at shutdown: the analyses' snapshots are
// saved, and another replica takes them over at its next tick rather than after LeaseTTL.
func (s *Server) releaseAll(ctx context.Context) {
	s.mu.Lock()
	var ids []string
	for id := range s.leases.held {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.release(ctx, id)
	}
}
