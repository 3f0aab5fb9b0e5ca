package analysis

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/verdict"
)

// EventKind says what an Event reports.
type EventKind string

const (
	EventPhase     EventKind = "phase"      // a phase started
	EventSmokeStep EventKind = "smoke-step" // a smoke step finished
	EventSmokeDone EventKind = "smoke-done" // the smoke gate finished, passed or not (Smoke)
	EventTick      EventKind = "tick"       // checks were evaluated
	EventVerdict   EventKind = "verdict"    // the analysis is decided
	EventWarning   EventKind = "warning"    // something to fix before trusting the run (Message)
)

// Event is progress of a run.
type Event struct {
	// Analysis is the id of the analysis in an Engine; Seq numbers its events from 1, without
	// gaps; Time is when the event was published. All three are set by the Engine's stream.
	Analysis string
	Seq      uint64
	Time     time.Time

	Kind    EventKind
	Phase   verdict.Phase
	Elapsed time.Duration // since the phase started
	Lag     time.Duration // tick events: how late the evaluation ran after its tick was due
	Limit   time.Duration // the phase's limit (maxDuration, watch)
	Checks  []verdict.CheckResult
	// Baseline and Candidate name the environments.
	Baseline, Candidate string
	Suite               string
	Env                 string
	Step                *smoke.StepResult
	// Smoke is the smoke gate's report (smoke-done events).
	Smoke   *verdict.Report
	Verdict *verdict.Verdict
	Message string
	// Diagnosis names what keeps an environment from being measured (tick events): "blue
	// unreachable: connection refused, 40 of 40 probes".
	Diagnosis []string
}

// Defaults of an analysis's event stream.
const (
	DefaultEventHistory = 1024 // events an analysis keeps for subscribers that join late
	DefaultEventBuffer  = 256  // events buffered per subscriber before it skips ahead
	// DefaultTickHistory is how many of those may be tick events. A tick repeats every check's
	// state each second, so an analysis of hours would otherwise keep only ticks, a megabyte of
	// them; older ticks make way for newer ones while the rarer events (phases, steps, warnings)
	// stay.
	DefaultTickHistory = 32
)

// ErrStreamEnded is returned by Subscription.Next after the verdict event (or Close).
var ErrStreamEnded = errors.New("event stream ended")

// stream is one analysis's events: it numbers them, keeps a bounded history for subscribers
// that join late (Subscribe after a sequence number, as SSE's Last-Event-ID asks), and hands
// each to every subscriber without ever waiting for one. A subscriber that falls behind its
// buffer skips ahead to the newest events and is told how many it missed; the run it watches
// never slows down. The verdict event is kept apart and is never dropped.
type stream struct {
	mu      sync.Mutex
	id      string
	now     func() time.Time
	seq     uint64
	history []Event // the newest events, oldest first, at most maxHist
	maxHist int
	ticks   int // tick events in history, at most maxTicks
	maxTick int
	maxBuf  int
	final   *Event
	subs    map[*Subscription]struct{}
}

func newStream(id string, now func() time.Time, history, buffer int) *stream {
	if history <= 0 {
		history = DefaultEventHistory
	}
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	if now == nil {
		now = time.Now
	}
	return &stream{id: id, now: now, maxHist: history, maxTick: min(history, DefaultTickHistory), maxBuf: buffer,
		subs: map[*Subscription]struct{}{}}
}

// publish numbers e and hands it to every subscriber; it never blocks on one. Nothing is
// published after the verdict.
func (s *stream) publish(e Event) Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		return e
	}
	s.seq++
	e.Analysis, e.Seq, e.Time = s.id, s.seq, s.now()
	if e.Kind == EventVerdict {
		f := e
		s.final = &f
		for sub := range s.subs {
			sub.setFinal(f)
		}
		return e
	}
	if e.Kind == EventTick && s.ticks == s.maxTick {
		s.drop(func(h Event) bool { return h.Kind == EventTick })
	}
	if len(s.history) == s.maxHist {
		s.drop(func(Event) bool { return true })
	}
	if e.Kind == EventTick {
		s.ticks++
	}
	s.history = append(s.history, e)
	for sub := range s.subs {
		sub.push(e)
	}
	return e
}

// drop removes the oldest event in the history that matches.
func (s *stream) drop(match func(Event) bool) {
	for i, h := range s.history {
		if match(h) {
			if h.Kind == EventTick {
				s.ticks--
			}
			s.history = append(s.history[:i], s.history[i+1:]...)
			return
		}
	}
}

// continueAfter numbers the next event seq+1: a resumed analysis's events follow those it
// published before it stopped. Only a stream with no event yet continues.
func (s *stream) continueAfter(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = seq
}

// restoreFinal ends a stream that has published nothing with the verdict event a decided
// analysis published before it stopped, under its own sequence number.
func (s *stream) restoreFinal(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Analysis = s.id
	s.seq, s.final = e.Seq, &e
}

// lastSeq is the sequence number of the newest event.
func (s *stream) lastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// subscribe returns a subscription to the events after afterSeq: those still in the history
// first (what the history no longer holds — older events, ticks that made way for newer ones —
// is counted as skipped), then new ones as they come.
func (s *stream) subscribe(afterSeq uint64) *Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := &Subscription{s: s, max: s.maxBuf, ready: make(chan struct{}, 1)}
	var missing uint64
	if afterSeq < s.seq {
		missing = s.seq - afterSeq
	}
	for _, e := range s.history {
		if e.Seq > afterSeq {
			sub.push(e)
			missing--
		}
	}
	if s.final != nil && s.final.Seq > afterSeq {
		sub.setFinal(*s.final)
		missing--
	} else if s.final != nil {
		sub.done = true
	}
	sub.skipped += missing
	s.subs[sub] = struct{}{}
	return sub
}

func (s *stream) unsubscribe(sub *Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sub)
}

// Subscription receives one analysis's events in order (see Engine.Subscribe).
type Subscription struct {
	s       *stream
	mu      sync.Mutex
	buf     []Event
	max     int
	skipped uint64
	final   *Event
	done    bool // the final event was delivered, or the subscription closed
	ready   chan struct{}
}

func (sub *Subscription) push(e Event) {
	sub.mu.Lock()
	if len(sub.buf) == sub.max {
		// Behind: skip ahead, keeping the newest events.
		n := len(sub.buf) / 2
		sub.buf = append(sub.buf[:0], sub.buf[n:]...)
		sub.skipped += uint64(n)
	}
	sub.buf = append(sub.buf, e)
	sub.mu.Unlock()
	sub.wake()
}

func (sub *Subscription) setFinal(e Event) {
	sub.mu.Lock()
	sub.final = &e
	sub.mu.Unlock()
	sub.wake()
}

func (sub *Subscription) wake() {
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// Next returns the next event, waiting for one until ctx ends. Skipped says how many events
// were skipped just before it because this subscriber fell behind. After the verdict event, or
// after Close, it returns ErrStreamEnded.
func (sub *Subscription) Next(ctx context.Context) (e Event, skipped uint64, err error) {
	for {
		sub.mu.Lock()
		switch {
		case sub.done:
			sub.mu.Unlock()
			return Event{}, 0, ErrStreamEnded
		case len(sub.buf) > 0:
			e, skipped = sub.buf[0], sub.skipped
			sub.buf = sub.buf[1:]
			sub.skipped = 0
			sub.mu.Unlock()
			return e, skipped, nil
		case sub.final != nil:
			e, skipped = *sub.final, sub.skipped
			sub.done, sub.skipped = true, 0
			sub.mu.Unlock()
			sub.s.unsubscribe(sub)
			return e, skipped, nil
		}
		sub.mu.Unlock()
		select {
		case <-ctx.Done():
			return Event{}, 0, ctx.Err()
		case <-sub.ready:
		}
	}
}

// Close ends the subscription; Next then returns ErrStreamEnded.
func (sub *Subscription) Close() {
	sub.mu.Lock()
	sub.done = true
	sub.mu.Unlock()
	sub.s.unsubscribe(sub)
	sub.wake()
}
