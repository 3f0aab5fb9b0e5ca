package analysis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// Errors the Engine returns for callers to branch on.
var (
	ErrNotFound     = errors.New("no such analysis")
	ErrShuttingDown = errors.New("engine is shutting down")
	ErrDecided      = errors.New("analysis already decided")
	ErrExists       = errors.New("analysis already in the engine")
)

// errShutdown interrupts the analyses of an Engine that shuts down: each saves its state as it
// stands (EngineOptions.Snapshots) for a restart to resume.
var errShutdown = errors.New("interrupted: greenlight is shutting down")

// EngineOptions are what every analysis of one Engine shares: one probe runner (and so one
// connection pool per environment), one metrics registry, one logger, one clock for events.
type EngineOptions struct {
	Runner    *smoke.Runner
	Metrics   *synthetic.Metrics
	Logger    *slog.Logger
	LookupEnv func(string) (string, bool)
	// Now stamps events (default time.Now).
	Now func() time.Time
	// EventHistory and EventBuffer bound each analysis's event history and each subscriber's
	// buffer (defaults DefaultEventHistory, DefaultEventBuffer).
	EventHistory, EventBuffer int
	// NewID names an analysis (default 16 random hex digits).
	NewID func() string
	// Traces, when set, is one OTLP trace receiver for every analysis: one with sources.traces
	// takes a view of it (its attribute, values and token) for as long as it runs, instead of
	// listening on sources.traces.listen, which is then not used. The process serves it (at
	// /v1/traces) at TracesAddr, which is what Options.OnTraces is told. Unset, each analysis
	// listens on its own address, as greenlight verify does.
	Traces     *traces.Receiver
	TracesAddr string
	// Stagger spreads the analyses over the tick: each one's evaluations and first probes are
	// put off by a fraction of the tick drawn from its id, so that analyses started together
	// (a daemon resuming hundreds after a restart) neither evaluate nor probe at the same
	// instant. greenlight serve sets it; greenlight verify runs one analysis and does not.
	Stagger bool
	// HostLimits caps the requests per second all the monitors of all the analyses send to one
	// host together (each monitor's rateLimit holds too). Default: one per Engine, at
	// synthetic.DefaultHostRateLimit; synthetic.NewHostLimits(0) caps nothing.
	HostLimits *synthetic.HostLimits
	// HTTPClient sends the metric and trace sources' queries (default: one client per Engine).
	// Analyses reading the same endpoint with the same credentials share one source client,
	// built with it and with Logger, for as long as any of them runs.
	HTTPClient *http.Client
	// Snapshots, when set, saves each analysis's state (see Snapshot): every SnapshotEvery of
	// run time (default DefaultSnapshotEvery), at each phase change, at the verdict and when the
	// Engine shuts down. Engine.Restore resumes an analysis from one.
	Snapshots     SnapshotSink
	SnapshotEvery time.Duration
}

// Engine runs many analyses at once in one process: greenlight verify runs one, greenlight serve
// hundreds. Each is started from a compiled Plan, watched through its numbered event stream,
// and can be aborted or overridden; nothing a caller does with events can slow a run.
type Engine struct {
	o       EngineOptions
	clients sharedClients
	ctx     context.Context
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	byID    map[string]*handle
	byKey   map[string]*handle
	closing bool

	// Snapshots are saved from goroutines of their own (saver), counted in saves until
	// Shutdown closes them; saveCtx ends when Shutdown gives up waiting.
	saves       sync.WaitGroup
	savesClosed bool
	saveCtx     context.Context
	saveCancel  context.CancelFunc
}

// NewEngine returns an Engine; Shutdown stops it.
func NewEngine(o EngineOptions) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Runner == nil {
		o.Runner = smoke.NewRunner("greenlight", o.Logger)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.HostLimits == nil {
		o.HostLimits = synthetic.NewHostLimits(synthetic.DefaultHostRateLimit)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = DefaultSnapshotEvery
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	e := &Engine{o: o, ctx: ctx, cancel: cancel, byID: map[string]*handle{}, byKey: map[string]*handle{},
		clients: sharedClients{cache: newClientCache(), http: o.HTTPClient, logger: o.Logger}}
	e.saveCtx, e.saveCancel = context.WithCancel(context.Background())
	return e
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StartOptions are a caller's for one analysis.
type StartOptions struct {
	// Key makes Start idempotent: a second Start with the same key returns the first
	// analysis (a rollout's name and pod-template hash, a CodeDeploy deployment id).
	Key string
	// Labels are the caller's, kept with the analysis (rollout, namespace …).
	Labels map[string]string
	// AfterSeq, for Restore, numbers the resumed analysis's events after this one when it is
	// later than the snapshot's last: a store may hold events published after the snapshot. A
	// decided snapshot's verdict event keeps its number unless that is not after AfterSeq.
	AfterSeq uint64
}

// Status is what Get tells of an analysis.
type Status struct {
	ID        string            `json:"id"`
	Key       string            `json:"key,omitempty"`
	Analysis  string            `json:"analysis"`
	Labels    map[string]string `json:"labels,omitempty"`
	State     verdict.Decision  `json:"state"` // running until decided
	Phase     verdict.Phase     `json:"phase"`
	StartedAt time.Time         `json:"startedAt"`
	Elapsed   time.Duration     `json:"-"`
	// Limit is the phase's limit (maxDuration, watch; 0 for the smoke gate).
	Limit time.Duration `json:"-"`
	// Checks are the latest outcomes; Verdict is set once decided.
	Checks  []verdict.CheckResult `json:"checks,omitempty"`
	Verdict *verdict.Verdict      `json:"verdict,omitempty"`
	LastSeq uint64                `json:"lastSeq"`
}

// handle is one analysis in the Engine.
type handle struct {
	id, key string
	labels  map[string]string
	plan    *Plan
	stream  *stream
	ctx     context.Context
	cancel  context.CancelCauseFunc
	done    chan struct{}

	mu       sync.Mutex
	status   Status
	v        *verdict.Verdict
	err      error
	override *verdict.Override

	// latest is the newest snapshot taken (nil before the first); taken is closed with it.
	// loop and loopDone, while the monitor loop runs, take Engine.Snapshot's requests.
	// resumable is set when the Engine's shutdown interrupted the run: its snapshot is
	// latest, not its interrupted verdict.
	latest    *Snapshot
	taken     chan struct{}
	loop      chan chan snapReply
	loopDone  chan struct{}
	resumable bool
	saver     saver
}

// Start begins an analysis and returns its id. With a key already used it returns that
// analysis's id and started false, whatever the plan.
func (e *Engine) Start(p *Plan, so StartOptions) (id string, started bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return "", false, ErrShuttingDown
	}
	if so.Key != "" {
		if h, ok := e.byKey[so.Key]; ok {
			return h.id, false, nil
		}
	}
	id = e.o.NewID()
	for e.byID[id] != nil {
		id = e.o.NewID()
	}
	h := e.add(p, id, so.Key, so.Labels, e.o.Now())
	e.launch(p, h, nil)
	return id, true, nil
}

// Restore resumes an analysis from a snapshot under its id and key, with plan compiled from the
// same spec and environments. A decided snapshot comes back decided, with its verdict, and
// runs nothing. A running one goes on with the phase it was in — its checks' evidence restored,
// its monitors and sources started again, the smoke gate not run again once passed, its time
// counted from when the phase began (downtime counts toward maxDuration) — and numbers its
// events after the snapshot's last. A snapshot that does not fit the plan (another spec, other
// checks or check settings, other environments) is refused before anything runs (ErrSnapshot).
func (e *Engine) Restore(p *Plan, s *Snapshot, so StartOptions) (id string, err error) {
	if err := p.CheckSnapshot(s); err != nil {
		return "", err
	}
	if so.Key != "" && so.Key != s.Key {
		return "", fmt.Errorf("%w: it was saved under key %q, not %q", ErrSnapshot, s.Key, so.Key)
	}
	labels := s.Labels
	if so.Labels != nil {
		labels = so.Labels
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return "", ErrShuttingDown
	}
	if e.byID[s.ID] != nil {
		return "", fmt.Errorf("%w: %s", ErrExists, s.ID)
	}
	if h, ok := e.byKey[s.Key]; ok && s.Key != "" {
		return "", fmt.Errorf("%w: key %q is analysis %s's", ErrExists, s.Key, h.id)
	}
	h := e.add(p, s.ID, s.Key, labels, s.StartedAt)
	h.status.Phase = s.Phase
	if !s.Decided() {
		h.stream.continueAfter(max(s.LastSeq, so.AfterSeq))
		h.status.LastSeq = max(s.LastSeq, so.AfterSeq)
		e.launch(p, h, s)
		return s.ID, nil
	}
	v := cloneVerdict(s.Verdict)
	seq := max(s.LastSeq, so.AfterSeq+1) // after what the caller already holds
	h.stream.restoreFinal(Event{Seq: seq, Time: s.At, Kind: EventVerdict, Phase: v.Phase, Checks: v.Checks, Verdict: v,
		Baseline: v.Baseline.Name, Candidate: v.Candidate.Name})
	h.v = v
	h.status.State, h.status.Phase, h.status.Checks, h.status.Verdict, h.status.LastSeq = v.Decision, v.Phase, v.Checks, v, seq
	h.latest = s
	close(h.taken)
	h.cancel(nil)
	close(h.done)
	return s.ID, nil
}

// add registers a new analysis; e.mu is held.
func (e *Engine) add(p *Plan, id, key string, labels map[string]string, started time.Time) *handle {
	ctx, cancel := context.WithCancelCause(e.ctx)
	h := &handle{id: id, key: key, labels: labels, plan: p, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		taken: make(chan struct{}), stream: newStream(id, e.o.Now, e.o.EventHistory, e.o.EventBuffer)}
	h.saver.e, h.saver.id = e, id
	h.status = Status{ID: id, Key: key, Analysis: p.o.Analysis.Metadata.Name, Labels: labels,
		State: verdict.Running, StartedAt: started}
	e.byID[id] = h
	if key != "" {
		e.byKey[key] = h
	}
	return h
}

// launch runs an analysis, from the start or from a snapshot.
func (e *Engine) launch(p *Plan, h *handle, from *Snapshot) {
	o := p.o
	o.Runner, o.Metrics, o.LookupEnv = e.o.Runner, e.o.Metrics, e.o.LookupEnv
	o.Logger = e.o.Logger.With("analysis", h.id, "spec", p.o.Analysis.Metadata.Name)
	o.OnEvent = h.publish
	o.traces = sharedTraces{rcv: e.o.Traces, addr: e.o.TracesAddr}
	if e.o.Stagger {
		o.stagger = staggerOf(h.id)
	}
	o.snaps = snapshotting{from: from, took: func(s *Snapshot, save bool) { e.took(h, s, save) }, serve: h.serve}
	if e.o.Snapshots != nil {
		o.snaps.every = e.o.SnapshotEvery
	}
	o.hosts, o.clients = e.o.HostLimits, e.clients
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer h.cancel(nil)
		v, err := p.run(h.ctx, o)
		h.finish(v, err)
		if v != nil && v.Decision == verdict.Interrupted && errors.Is(context.Cause(h.ctx), errShutdown) {
			// The run saved its state as it stood; that, not the interruption, is what a
			// restart resumes.
			h.mu.Lock()
			h.resumable = true
			h.mu.Unlock()
			return
		}
		if v != nil {
			e.took(h, h.decided(), true)
		}
	}()
}

// staggerOf is the fraction of the tick by which the analysis id is put off, in [0, 1).
func staggerOf(id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return float64(h.Sum64()>>11) / (1 << 53)
}

// publish records an event in the analysis's status and stream; it never blocks on a reader.
func (h *handle) publish(ev Event) {
	if ev.Kind == EventVerdict {
		// The verdict event goes out once the verdict is final (finish), overrides included.
		return
	}
	ev = h.stream.publish(ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ev.Phase != "" {
		h.status.Phase = ev.Phase
	}
	if ev.Kind == EventPhase || ev.Kind == EventTick {
		h.status.Limit = ev.Limit
	}
	if ev.Kind == EventTick {
		h.status.Checks, h.status.Elapsed = ev.Checks, ev.Elapsed
	}
	h.status.LastSeq = ev.Seq
}

// finish makes the run's outcome final: an override given while it ran replaces the decision.
func (h *handle) finish(v *verdict.Verdict, err error) {
	h.mu.Lock()
	if v != nil && h.override != nil {
		applyOverride(v, h.override)
	}
	h.v, h.err = v, err
	h.status.Verdict = v
	switch {
	case v != nil:
		h.status.State, h.status.Phase, h.status.Checks = v.Decision, v.Phase, v.Checks
	case err != nil:
		h.status.State = verdict.Inconclusive
	}
	h.mu.Unlock()
	final := Event{Kind: EventVerdict, Verdict: v}
	if v != nil {
		final.Phase, final.Checks, final.Baseline, final.Candidate = v.Phase, v.Checks, v.Baseline.Name, v.Candidate.Name
	}
	if err != nil {
		final.Message = err.Error()
	}
	final = h.stream.publish(final)
	h.mu.Lock()
	h.status.LastSeq = final.Seq
	h.mu.Unlock()
	close(h.done)
}

// applyOverride puts a person's decision over the analysis's own, keeping that in the
// override; a later override replaces an earlier one.
func applyOverride(v *verdict.Verdict, o *verdict.Override) {
	if v.Override != nil {
		v.Decision, v.Reason = v.Override.Was, v.Override.WasReason
	}
	o.Was, o.WasReason = v.Decision, v.Reason
	v.Override = o
	v.Decision = o.Decision
	v.Reason = fmt.Sprintf("overridden to %s by %s: %s (the analysis said %s: %s)", o.Decision, o.By, o.Why, o.Was, o.WasReason)
}

func (e *Engine) get(id string) (*handle, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return h, nil
}

// Forget drops an analysis from the engine once its run has ended — its status, its event
// history, its key — waiting for the end when it is still finishing. A daemon forgets each
// analysis once it has stored its verdict (the store answers for it from then on): the
// engine's memory then holds the analyses that run, not every one it ever ran, and an
// analysis stopped here on a lost lease can be restored here again later. Unknown ids are
// ignored.
func (e *Engine) Forget(id string) {
	e.mu.Lock()
	h := e.byID[id]
	e.mu.Unlock()
	if h == nil {
		return
	}
	<-h.done
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID[id] == h {
		delete(e.byID, id)
	}
	if h.key != "" && e.byKey[h.key] == h {
		delete(e.byKey, h.key)
	}
}

// Get returns an analysis's status.
func (e *Engine) Get(id string) (Status, error) {
	h, err := e.get(id)
	if err != nil {
		return Status{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.status
	s.Checks = append([]verdict.CheckResult(nil), s.Checks...)
	return s, nil
}

// List returns every analysis's status, oldest first.
func (e *Engine) List() []Status {
	e.mu.Lock()
	ids := make([]string, 0, len(e.byID))
	for id := range e.byID {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	out := make([]Status, 0, len(ids))
	for _, id := range ids {
		if s, err := e.Get(id); err == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Wait blocks until the analysis is decided (or ctx ends) and returns its verdict. The error is
// the run's own when no verdict could be formed (invalid input, a failure of greenlight).
func (e *Engine) Wait(ctx context.Context, id string) (*verdict.Verdict, error) {
	h, err := e.get(id)
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.done:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.v, h.err
}

// Subscribe returns the analysis's events after sequence number afterSeq (0: from the start, as
// far as the history reaches). Close the subscription when done with it.
func (e *Engine) Subscribe(id string, afterSeq uint64) (*Subscription, error) {
	h, err := e.get(id)
	if err != nil {
		return nil, err
	}
	return h.stream.subscribe(afterSeq), nil
}

// Abort stops a running analysis: its verdict is "interrupted" with the reason, never a
// rollback blamed on the candidate. Aborting a decided analysis is ErrDecided.
func (e *Engine) Abort(id, reason string) error {
	if reason == "" {
		reason = "no reason given"
	}
	return e.Interrupt(id, fmt.Errorf("aborted: %s", reason))
}

// Interrupt stops a running analysis with cause as the reason its verdict gives ("interrupted
// by SIGTERM"). Interrupting a decided analysis is ErrDecided.
func (e *Engine) Interrupt(id string, cause error) error {
	h, err := e.get(id)
	if err != nil {
		return err
	}
	select {
	case <-h.done:
		return fmt.Errorf("%w: %s", ErrDecided, id)
	default:
	}
	h.cancel(cause)
	return nil
}

// Override decides an analysis by hand — promote or rollback — recording who and why in the
// verdict. A running analysis stops; a decided one has its decision replaced, its original kept.
func (e *Engine) Override(id string, d verdict.Decision, by, why string) (*verdict.Verdict, error) {
	if d != verdict.Promote && d != verdict.Rollback {
		return nil, fmt.Errorf("%w: an override is promote or rollback, not %q", ErrInvalid, d)
	}
	if by == "" || why == "" {
		return nil, fmt.Errorf("%w: an override needs who and why", ErrInvalid)
	}
	h, err := e.get(id)
	if err != nil {
		return nil, err
	}
	o := &verdict.Override{Decision: d, By: by, Why: why, At: e.o.Now()}
	h.mu.Lock()
	select {
	case <-h.done:
		if h.v == nil {
			h.mu.Unlock()
			return nil, fmt.Errorf("%w: %s ended without a verdict: %v", ErrDecided, id, h.err)
		}
		applyOverride(h.v, o)
		h.status.State = d
		v := h.v
		h.resumable = false // decided by hand: nothing to resume
		h.mu.Unlock()
		e.took(h, h.decided(), true)
		return v, nil
	default:
	}
	h.override = o
	h.mu.Unlock()
	h.cancel(fmt.Errorf("overridden to %s by %s", d, by))
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.v, h.err
}

// Shutdown stops accepting analyses, interrupts the running ones and waits for them and for
// their last snapshots to be saved (or for ctx; the sink's context then ends too).
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	e.cancel(errShutdown)
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		// Every run has handed over its last snapshot: wait for the sink to take them.
		e.mu.Lock()
		e.savesClosed = true
		e.mu.Unlock()
		e.saves.Wait()
		close(done)
	}()
	defer e.saveCancel()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return nil
	}
}
