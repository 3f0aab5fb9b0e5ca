package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// Event kinds the server adds to an analysis's own.
const (
	eventResumed  = "resumed"  // the daemon restarted, or a replica took the analysis over, and started it again
	eventOverride = "override" // a person overrode the verdict after it was decided
)

// eventBody is an event as the store keeps it and the event streams send it.
type eventBody struct {
	Analysis  string                `json:"analysis"`
	Seq       uint64                `json:"seq"`
	Time      time.Time             `json:"time"`
	Kind      string                `json:"kind"`
	Phase     verdict.Phase         `json:"phase,omitempty"`
	ElapsedMs int64                 `json:"elapsedMs,omitempty"`
	LimitMs   int64                 `json:"limitMs,omitempty"`
	LagMs     int64                 `json:"lagMs,omitempty"`
	Baseline  string                `json:"baseline,omitempty"`
	Candidate string                `json:"candidate,omitempty"`
	Suite     string                `json:"suite,omitempty"`
	Env       string                `json:"env,omitempty"`
	Step      *verdict.StepReport   `json:"step,omitempty"`
	Smoke     *verdict.Report       `json:"smoke,omitempty"` // smoke-done events: the gate's report
	Checks    []verdict.CheckResult `json:"checks,omitempty"`
	Diagnosis []string              `json:"diagnosis,omitempty"`
	Message   string                `json:"message,omitempty"`
	// Skipped counts the events just before this one the store never got (its writer fell
	// behind the engine).
	Skipped  uint64            `json:"skipped,omitempty"`
	Verdict  *verdict.Verdict  `json:"verdict,omitempty"`
	Override *verdict.Override `json:"override,omitempty"`
}

// storeEvent turns a body into a store event, its text redacted.
func storeEvent(b eventBody, redact func(string) string) (store.Event, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return store.Event{}, fmt.Errorf("event %s#%d: %w", b.Analysis, b.Seq, err)
	}
	return store.Event{Analysis: b.Analysis, Seq: b.Seq, Time: b.Time, Kind: b.Kind, Data: json.RawMessage(redact(string(data)))}, nil
}

// run is one analysis the server runs: its record, and what its writer needs.
type run struct {
	rec    store.Analysis
	plan   *analysis.Plan
	redact func(string) string
	// base is added to the engine's sequence numbers: the analysis's events before a restart
	// keep theirs.
	base uint64
	// snap, when set, is the snapshot the analysis resumes from (its events are numbered after
	// after, and base is 0).
	snap  *analysis.Snapshot
	after uint64
}

// options are the analysis options of a stored analysis.
func (s *Server) options(a *specs.Analysis, rec store.Analysis) analysis.Options {
	o := analysis.Options{Analysis: a, Envs: rec.Envs, Baseline: rec.Baseline, Candidate: rec.Candidate}
	applyMode(&o, rec.Labels)
	if s.o.Plan != nil {
		s.o.Plan(&o)
	}
	return o
}

// startRun starts the analysis on the engine under its stored id and its writer.
func (s *Server) startRun(r *run) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.engineStopped.Load() {
		return analysis.ErrShuttingDown
	}
	var id string
	if r.snap != nil {
		var err error
		if id, err = s.engine.Restore(r.plan, r.snap, analysis.StartOptions{Key: r.rec.Key, Labels: r.rec.Labels, AfterSeq: r.after}); err != nil {
			return err
		}
	} else {
		s.pendingID = r.rec.ID
		var started bool
		var err error
		id, started, err = s.engine.Start(r.plan, analysis.StartOptions{Key: r.rec.Key, Labels: r.rec.Labels})
		s.pendingID = ""
		switch {
		case err != nil:
			return err
		case !started || id != r.rec.ID:
			return fmt.Errorf("the engine already runs analysis %s for key %q", id, r.rec.Key)
		}
	}
	sub, err := s.engine.Subscribe(id, r.after)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go s.persist(r, sub)
	return nil
}

// maxBatch bounds the events written in one transaction.
const maxBatch = 64

// persist writes an analysis's events to the store as the engine publishes them, and its
// verdict: then, and only then, it is reported.
func (s *Server) persist(r *run, sub *analysis.Subscription) {
	defer s.wg.Done()
	defer sub.Close()
	defer s.endLocal(r.rec.ID)
	// Before endLocal: once it no longer runs here, a takeover may restore it here again.
	defer s.engine.Forget(r.rec.ID)
	ctx := context.Background()
	polled, cancel := context.WithCancel(ctx)
	cancel() // Next with an ended context returns what is already buffered, without waiting
	for {
		ev, skipped, err := sub.Next(ctx)
		if err != nil {
			return
		}
		batch := []analysis.Event{ev}
		skips := []uint64{skipped}
		for ev.Kind != analysis.EventVerdict && len(batch) < maxBatch {
			if ev, skipped, err = sub.Next(polled); err != nil {
				break
			}
			batch, skips = append(batch, ev), append(skips, skipped)
		}
		var (
			evs    []store.Event
			outbox []store.Delivery
			final  *analysis.Event
			phase  verdict.Phase
			at     time.Time
		)
		for i, e := range batch {
			if e.Kind == analysis.EventVerdict {
				final = &batch[i]
				continue
			}
			se, err := storeEvent(s.body(r, e, skips[i]), r.redact)
			if err != nil {
				s.log.Error("cannot store an event", "analysis", r.rec.ID, "error", err)
				continue
			}
			evs = append(evs, se)
			if e.Kind == analysis.EventTick {
				s.metrics.checks.tick(r.rec, e.Phase, e.Elapsed, e.Limit, e.Checks)
			}
			if e.Kind == analysis.EventPhase && e.Phase != "" {
				phase, at = e.Phase, e.Time
			}
			if e.Kind == analysis.EventSmokeDone {
				outbox = append(outbox, s.eventDeliveries(r.rec, emit.Event{Type: emit.SmokeDone, Time: e.Time, Smoke: e.Smoke, Message: e.Message})...)
			}
		}
		w := write{analysis: r.rec.ID, events: evs, outbox: outbox, phase: phase, at: at}
		if s.leaseLost(r.rec.ID) {
			// Another replica runs it now and numbers its events: write nothing more.
			if final != nil {
				s.decide(r, *final)
				return
			}
			continue
		}
		if final == nil && s.leasesStale() {
			// Another replica may run it already (its lease expired unrenewed): its events
			// could take the numbers that replica gives its own. The verdict is still recorded
			// (the store keeps exactly one).
			s.log.Warn("leases not renewed for a lease: events not stored until they are", "analysis", r.rec.ID, "events", len(evs))
			continue
		}
		if final == nil {
			if len(evs) > 0 || phase != "" {
				s.writes <- w
			}
			continue
		}
		// The verdict comes after every event before it is committed.
		w.done = make(chan struct{})
		s.writes <- w
		<-w.done
		s.decide(r, *final)
		return
	}
}

// body is the stored form of an engine event.
func (s *Server) body(r *run, e analysis.Event, skipped uint64) eventBody {
	b := eventBody{Analysis: r.rec.ID, Seq: r.base + e.Seq, Time: e.Time, Kind: string(e.Kind), Phase: e.Phase,
		ElapsedMs: e.Elapsed.Milliseconds(), LimitMs: e.Limit.Milliseconds(), LagMs: e.Lag.Milliseconds(),
		Baseline: e.Baseline, Candidate: e.Candidate, Suite: e.Suite, Env: e.Env, Checks: e.Checks,
		Diagnosis: e.Diagnosis, Message: e.Message, Skipped: skipped, Verdict: e.Verdict, Smoke: e.Smoke}
	if e.Step != nil {
		st := analysis.StepReport(e.Env, *e.Step)
		b.Step = &st
	}
	return b
}

// decide records the verdict the engine published, with its event and deliveries, and wakes
// whoever waits for it. An analysis the shutdown interrupted is left running in the store: it
// starts again with the daemon.
func (s *Server) decide(r *run, e analysis.Event) {
	v := e.Verdict
	if v == nil {
		// The run ended without a verdict: a failure of greenlight, not of the candidate.
		v = &verdict.Verdict{Analysis: r.rec.Spec, Decision: verdict.Inconclusive, Phase: e.Phase, StartedAt: r.rec.CreatedAt,
			Reason: "greenlight could not complete the analysis: " + e.Message}
		e.Verdict = v
	}
	s.mu.Lock()
	aborted := s.aborted[r.rec.ID]
	lost := s.leases.lost[r.rec.ID]
	s.mu.Unlock()
	if lost {
		s.log.Info("analysis stopped here: another replica took over its lease and decides it", "analysis", r.rec.ID)
		return
	}
	if s.closing.Load() && v.Decision == verdict.Interrupted && !aborted {
		s.log.Info("analysis interrupted by shutdown: it starts again with the daemon", "analysis", r.rec.ID)
		return
	}
	v.Redact(r.redact)
	final, err := storeEvent(s.body(r, e, 0), r.redact)
	if err != nil {
		s.log.Error("cannot store the verdict event", "analysis", r.rec.ID, "error", err)
	}
	s.record(r.rec, v, []store.Event{final})
}

// record commits a verdict, retrying while the store fails (a verdict is never dropped; until
// it is committed the API says running). It is the only way verdicts reach the store.
func (s *Server) record(rec store.Analysis, v *verdict.Verdict, events []store.Event) {
	data, err := json.Marshal(v)
	if err != nil {
		s.log.Error("cannot encode a verdict", "analysis", rec.ID, "error", err)
		return
	}
	sv := store.Verdict{Analysis: rec.ID, Decision: v.Decision, Data: data, At: s.now()}
	ev, msg := verdictEvent(v)
	outbox := s.deliveries(rec, ev, sv.At, v, msg)
	for attempt := 1; ; attempt++ {
		err := s.o.Store.RecordVerdict(context.Background(), sv, events, outbox)
		if err == nil || errors.Is(err, store.ErrDecided) {
			break
		}
		s.log.Error("cannot store a verdict: retrying", "analysis", rec.ID, "attempt", attempt, "error", err)
		select {
		case <-time.After(min(time.Duration(attempt)*time.Second, 30*time.Second)):
		case <-s.stop:
			return // not committed: the analysis is still running in the store, and starts again
		}
	}
	s.metrics.decided(rec, v, sv.At)
	if len(outbox) > 0 {
		s.dispatcher.Notify()
	}
	s.markDecided(rec.ID)
	s.hub.wake(rec.ID)
	s.release(context.Background(), rec.ID)
	s.endLocal(rec.ID)
	if err := s.o.Store.ThinEvents(context.Background(), rec.ID, string(analysis.EventTick), s.o.DecidedTicks); err != nil {
		s.log.Warn("cannot thin a decided analysis's ticks", "analysis", rec.ID, "error", err)
	}
}

// Resume takes over, under their ids, the running analyses no replica holds a lease of: this
// daemon stopped (or died) before they were decided, or another replica did. Their evidence
// collection goes on from their snapshots, which an event says; one whose spec is gone or no
// longer compiles is recorded as interrupted with the reason. Then the server is ready, and
// renews its leases and takes over expired ones every third of LeaseTTL until Shutdown.
func (s *Server) Resume(ctx context.Context) error {
	defer s.ready.Store(true)
	n, err := s.takeOver(ctx, time.Time{})
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if n > 0 {
		s.log.Info("started again the analyses that were running", "analyses", n)
	}
	if !s.leaseStarted.Swap(true) {
		go s.runLeases()
	}
	s.startPruning()
	return nil
}

func (s *Server) resume(ctx context.Context, rec store.Analysis) error {
	last, err := s.o.Store.LastSeq(ctx, rec.ID)
	if err != nil {
		return fmt.Errorf("resume %s: %w", rec.ID, err)
	}
	note := store.Event{Analysis: rec.ID, Seq: last + 1, Time: s.now(), Kind: eventResumed}
	giveUp := func(reason string) {
		v := &verdict.Verdict{Analysis: rec.Spec, Decision: verdict.Interrupted, Phase: rec.Phase, StartedAt: rec.CreatedAt, Reason: reason}
		e, err := storeEvent(eventBody{Analysis: rec.ID, Seq: last + 1, Time: note.Time, Kind: string(analysis.EventVerdict), Message: reason, Verdict: v}, nop)
		if err != nil {
			s.log.Error("cannot store an event", "analysis", rec.ID, "error", err)
		}
		s.log.Warn("cannot start an analysis again", "analysis", rec.ID, "reason", reason)
		s.record(rec, v, []store.Event{e})
	}
	a := s.specs.Load().Analysis(rec.Spec)
	if a == nil {
		giveUp(fmt.Sprintf("interrupted: greenlight restarted and no longer has the analysis spec %q", rec.Spec))
		return nil
	}
	o := s.options(a, rec)
	p, err := analysis.Compile(o)
	if err != nil {
		giveUp(fmt.Sprintf("interrupted: greenlight restarted and the analysis no longer compiles: %s", o.Redactor().Redact(err.Error())))
		return nil
	}
	snap, err := s.storedSnapshot(ctx, rec.ID)
	if err != nil {
		return fmt.Errorf("resume %s: %w", rec.ID, err)
	}
	if snap != nil {
		err := s.resumeFrom(ctx, rec, p, o.Redactor().Redact, snap, last)
		if err == nil {
			return nil
		}
		if !errors.Is(err, analysis.ErrSnapshot) {
			return fmt.Errorf("resume %s: %w", rec.ID, err)
		}
		s.log.Warn("an analysis's snapshot does not fit its spec any more: it starts again", "analysis", rec.ID, "error", err)
	}
	note, err = storeEvent(eventBody{Analysis: rec.ID, Seq: last + 1, Time: note.Time, Kind: eventResumed,
		Message: "the daemon running it stopped before a verdict: the analysis starts again and collects its evidence anew (no snapshot to resume from)"}, nop)
	if err != nil {
		return err
	}
	if err := s.o.Store.AppendEvents(ctx, []store.Event{note}, s.o.EventRetention); err != nil {
		return fmt.Errorf("resume %s: %w", rec.ID, err)
	}
	if err := s.startRun(&run{rec: rec, plan: p, redact: o.Redactor().Redact, base: last + 1}); err != nil {
		return fmt.Errorf("resume %s: %w", rec.ID, err)
	}
	return nil
}

// resumeFrom restores an analysis from its snapshot: a running one goes on with its phase and
// its checks' evidence (a resumed event says from when), a decided one whose verdict the store
// had not committed yet publishes it again. Errors wrapping analysis.ErrSnapshot mean the
// snapshot does not fit the analysis as compiled now; nothing has been written then.
func (s *Server) resumeFrom(ctx context.Context, rec store.Analysis, p *analysis.Plan, redact func(string) string, snap *analysis.Snapshot, last uint64) error {
	if err := p.CheckSnapshot(snap); err != nil {
		return err
	}
	r := &run{rec: rec, plan: p, redact: redact, snap: snap, after: last}
	if !snap.Decided() {
		note, err := storeEvent(eventBody{Analysis: rec.ID, Seq: last + 1, Time: s.now(), Kind: eventResumed, Phase: snap.Phase,
			Message: fmt.Sprintf("the daemon running it stopped before a verdict: the analysis resumes from its snapshot of %s (%s phase), with the evidence gathered until then",
				snap.At.UTC().Format(time.RFC3339), snap.Phase)}, nop)
		if err != nil {
			return err
		}
		if err := s.o.Store.AppendEvents(ctx, []store.Event{note}, s.o.EventRetention); err != nil {
			return err
		}
		r.after = last + 1
	}
	return s.startRun(r)
}

func nop(s string) string { return s }
