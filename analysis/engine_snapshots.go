package analysis

import (
	"context"
	"fmt"
	"sync"
)

// Snapshot returns the analysis's state now, as Restore takes it: a running analysis's taken
// between two steps of its run (in the smoke gate, as the gate began), a decided one's with its
// verdict. An analysis the Engine's shutdown interrupted gives the state it was interrupted in.
// The snapshot is shared: read it, do not change it.
func (e *Engine) Snapshot(id string) (*Snapshot, error) {
	h, err := e.get(id)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case <-h.done:
			h.mu.Lock()
			latest, resumable, decided := h.latest, h.resumable, h.v != nil
			h.mu.Unlock()
			if resumable || !decided {
				// Interrupted by the shutdown (its state is the latest), or ended without a
				// verdict (invalid input: its latest is all there is).
				if latest == nil {
					return nil, fmt.Errorf("no snapshot of %s: it ended before taking one: %w", id, h.err)
				}
				return latest, nil
			}
			s := h.decided()
			e.stamp(h, s)
			return s, nil
		case <-h.taken:
		}
		h.mu.Lock()
		reqs, stop, latest := h.loop, h.loopDone, h.latest
		h.mu.Unlock()
		if reqs == nil {
			return latest, nil
		}
		reply := make(chan snapReply, 1)
		select {
		case reqs <- reply:
			r := <-reply
			return r.s, r.err
		case <-stop:
			// The loop ended meanwhile: look again.
		}
	}
}

// took keeps a snapshot the run took, stamped, and saves it when asked to.
func (e *Engine) took(h *handle, s *Snapshot, save bool) {
	e.stamp(h, s)
	h.mu.Lock()
	first := h.latest == nil
	h.latest = s
	h.mu.Unlock()
	if first {
		close(h.taken)
	}
	if save && e.o.Snapshots != nil {
		h.saver.put(s)
	}
}

// stamp sets what the Engine knows of the analysis and the run does not: its identity, its
// last event, the time.
func (e *Engine) stamp(h *handle, s *Snapshot) {
	s.ID, s.Key, s.Labels = h.id, h.key, h.labels
	s.LastSeq = h.stream.lastSeq()
	s.At = e.o.Now()
}

// decided is the snapshot of a decided analysis: its verdict, as of now (overrides included).
func (h *handle) decided() *Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := cloneVerdict(h.v)
	return &Snapshot{Version: SnapshotVersion, Spec: h.status.Analysis, Baseline: v.Baseline.Name, Candidate: v.Candidate.Name,
		StartedAt: h.status.StartedAt, Phase: v.Phase, Verdict: v}
}

// serve offers the monitor loop's request channel to Engine.Snapshot until withdrawn.
func (h *handle) serve(reqs chan chan snapReply) (withdraw func()) {
	done := make(chan struct{})
	h.mu.Lock()
	h.loop, h.loopDone = reqs, done
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.loop, h.loopDone = nil, nil
		h.mu.Unlock()
		close(done)
	}
}

// saver hands one analysis's snapshots to the sink from a goroutine of its own, newest first:
// a snapshot taken while the sink is still busy with an older one replaces any other waiting,
// so a slow sink holds up neither the run nor more than one snapshot. A failure is logged; the
// next snapshot saves everything the failed one held.
type saver struct {
	e       *Engine
	id      string
	mu      sync.Mutex
	pending *Snapshot
	running bool
}

func (sv *saver) put(s *Snapshot) {
	sv.mu.Lock()
	sv.pending = s
	start := !sv.running
	sv.running = true
	sv.mu.Unlock()
	if !start {
		return
	}
	e := sv.e
	e.mu.Lock()
	closed := e.savesClosed
	if !closed {
		e.saves.Add(1)
	}
	e.mu.Unlock()
	if closed {
		// After Shutdown has waited for the last snapshots (an override of a decided analysis
		// as the Engine stops): nothing waits for this one.
		e.o.Logger.Warn("snapshot not saved: the engine has shut down", "analysis", sv.id)
		sv.mu.Lock()
		sv.pending, sv.running = nil, false
		sv.mu.Unlock()
		return
	}
	go sv.loop(e.saveCtx)
}

func (sv *saver) loop(ctx context.Context) {
	defer sv.e.saves.Done()
	for {
		sv.mu.Lock()
		s := sv.pending
		sv.pending = nil
		if s == nil {
			sv.running = false
			sv.mu.Unlock()
			return
		}
		sv.mu.Unlock()
		if err := sv.e.o.Snapshots.SaveSnapshot(ctx, s); err != nil {
			sv.e.o.Logger.Warn("snapshot not saved; the next one will hold its state", "analysis", sv.id, "phase", s.Phase, "err", err)
		}
	}
}
