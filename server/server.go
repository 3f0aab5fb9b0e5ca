package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict/emit"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxWait        = 60 * time.Second
	DefaultHeartbeat      = 15 * time.Second
	DefaultEventRetention = 2000
	DefaultWriteLinger    = 100 * time.Millisecond
	DefaultDecidedTicks   = 120
)

// Options configure a Server.
type Options struct {
	Store store.Store
	// Engine configures the engine the server runs its analyses on (the server names them).
	Engine analysis.EngineOptions
	// Specs are the loaded Suites and Analyses; analyses are started by name from them
	// (SetSpecs replaces them).
	Specs *specs.Documents
	// Tokens are the API's bearer tokens; none lets every request through.
	Tokens *Tokens
	// Traces serves POST /v1/traces (the engine's shared OTLP receiver, which checks its own
	// tokens); nil answers 404.
	Traces http.Handler
	// Registry is where the server's metrics are registered and what /metrics serves (a new
	// one when nil).
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Plan, when set, adjusts the options of every analysis before it is compiled (tests give
	// it a network).
	Plan func(*analysis.Options)
	// Notifications say where analyses' events are delivered (nil: nowhere; deliveries
	// already in the store are still sent to the endpoints that have an emitter).
	// SetNotifications replaces them.
	Notifications *Notifications
	// Delivery tunes the dispatcher that sends them (retry policy, workers, lease, poll; a
	// clock and jitter for tests); its Outbox, Emitters and Logger are the server's.
	Delivery emit.Options
	// MaxBodyBytes bounds a request body (default 1 MiB); MaxWait the longest long-poll
	// (default 60s); Heartbeat how often an idle event stream sends a comment (default 15s);
	// EventRetention how many events of each analysis the store keeps (default 2000);
	// WriteLinger how long the events writer waits for more events to commit them together
	// (default 100ms: events reach the streams that much later).
	MaxBodyBytes   int64
	MaxWait        time.Duration
	Heartbeat      time.Duration
	EventRetention int
	WriteLinger    time.Duration
	// DecidedTicks is how many of its tick events a decided analysis keeps, evenly spread
	// (default 120): its course, without a tick a second for the life of the store.
	DecidedTicks int
	// MetricsDecided is how many decided analyses keep their per-check series in /metrics
	// (default 20); the running ones always have theirs.
	MetricsDecided int
	// LeaseTTL is how long this replica's lease of an analysis lasts unrenewed (default 15s):
	// it renews them every third of it, and a replica that dies has its analyses taken over
	// by another within about that long. Owner names this replica in the leases (default: the
	// host name and a random suffix).
	LeaseTTL time.Duration
	Owner    string
	// CommandWait is how long an abort or override of an analysis another replica runs waits
	// for that replica's answer before answering 202 Accepted (default 30s).
	CommandWait time.Duration
	// Retention is how long a decided analysis is kept after its verdict (or its last
	// override): older ones are deleted with their events, snapshot and deliveries once none
	// of those is pending, as the daemon starts and every PruneEvery (default an hour).
	// Their audit entries are kept. 0 keeps every analysis.
	Retention  time.Duration
	PruneEvery time.Duration

	// forwarded, when set (tests), is told each command stored for another replica.
	forwarded func(c store.Command)
	// waiting, when set (tests), is told each verdict long-poll that starts waiting.
	waiting func(id string)
	// tookOver, when set (tests), is told each analysis this replica takes over.
	tookOver func(id string)
	// recorded, when set (tests), is told each delivery attempt's outcome once it is stored.
	recorded func(k emit.Key, outcome string)
	// pruneTick, when set (tests), replaces PruneEvery's ticker; pruned is told each prune's
	// outcome.
	pruneTick <-chan time.Time
	pruned    func(n int, err error)
}

// Server is the daemon's API and the analyses it runs.
type Server struct {
	o       Options
	specs   atomic.Pointer[specs.Documents]
	engine  *analysis.Engine
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	hub     hub
	mux     *http.ServeMux
	paths   *http.ServeMux // the routes without methods: tells 405 from 404
	routes  []route

	// startMu serialises starts: the engine takes its next id from pendingID.
	startMu   sync.Mutex
	pendingID string

	mu      sync.Mutex
	decided map[string]chan struct{} // closed once an analysis's verdict is committed
	aborted map[string]bool          // aborted by a person (recorded even while shutting down)
	leases  leases                   // under mu

	// commands: closed when the store tells of a change of a command this replica waits for.
	commands map[int64]chan struct{}
	// leaseOnce stops the lease loop once; leaseStarted: Resume started it.
	leaseOnce    sync.Once
	leaseStarted atomic.Bool
	pruner       pruner // under mu
	// overrideMu serialises overrides, which append events after a verdict.
	overrideMu sync.Mutex

	notifications atomic.Pointer[Notifications]
	dispatcher    *emit.Dispatcher
	stopDispatch  func() // ends the dispatcher's Run and waits for it

	ready   atomic.Bool
	closing atomic.Bool
	// engineStopped: Shutdown ran.
	engineStopped atomic.Bool
	stop          chan struct{} // closed by StopStreams: long-polls and event streams end
	stopOnce      sync.Once
	wg            sync.WaitGroup // the analyses' writers
	// writes go to the one events writer (writeEvents), which closes writerDone when they end.
	writes     chan write
	writerDone chan struct{}

	// unsubscribe ends the following of the store's changes (those of other replicas).
	unsubscribe func()
}

// New returns a server; call Resume before serving, and Shutdown at the end.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("server: no store")
	}
	if o.Specs == nil {
		o.Specs = &specs.Documents{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.EventRetention <= 0 {
		o.EventRetention = DefaultEventRetention
	}
	if o.WriteLinger <= 0 {
		o.WriteLinger = DefaultWriteLinger
	}
	if o.DecidedTicks <= 0 {
		o.DecidedTicks = DefaultDecidedTicks
	}
	if o.MetricsDecided <= 0 {
		o.MetricsDecided = DefaultMetricsDecided
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = DefaultPruneEvery
	}
	if o.Owner == "" {
		o.Owner = defaultOwner()
	}
	if o.CommandWait <= 0 {
		o.CommandWait = DefaultCommandWait
	}
	if o.Engine.Now == nil {
		o.Engine.Now = time.Now
	}
	if o.Engine.Logger == nil {
		o.Engine.Logger = o.Logger
	}
	s := &Server{o: o, log: o.Logger, now: o.Engine.Now, decided: map[string]chan struct{}{}, commands: map[int64]chan struct{}{}, aborted: map[string]bool{}, stop: make(chan struct{})}
	s.hub.all, s.hub.by = make(chan struct{}), map[string]chan struct{}{}
	s.leases = leases{held: map[string]bool{}, local: map[string]bool{}, lost: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.specs.Store(o.Specs)
	s.writes, s.writerDone = make(chan write, writeQueue), make(chan struct{})
	go s.writeEvents()
	eo := o.Engine
	eo.NewID = s.engineID
	if eo.Snapshots == nil {
		eo.Snapshots = s.Snapshots()
	}
	// A daemon runs many analyses and resumes them all at once after a restart: spread them
	// over the tick (see analysis.EngineOptions.Stagger).
	eo.Stagger = true
	s.engine = analysis.NewEngine(eo)
	m, err := newMetrics(o.Registry, o.Store, o.MetricsDecided)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if o.Notifications == nil {
		o.Notifications = &Notifications{}
	}
	s.notifications.Store(o.Notifications)
	do := o.Delivery
	do.Outbox = countingOutbox{Outbox: store.NewEmitOutbox(o.Store), m: m, recorded: o.recorded}
	do.Emitters = o.Notifications.Emitters
	do.Logger = o.Logger
	if s.dispatcher, err = emit.NewDispatcher(do); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.routes = s.routeTable()
	s.mux, s.paths = http.NewServeMux(), http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range s.routes {
		h := s.authorize(rt.Scope, rt.handler)
		if rt.Pattern == flaggerPattern {
			h = s.flaggerTokenAuth(h)
		}
		s.mux.HandleFunc(rt.Method+" "+rt.Pattern, h)
		if !seen[rt.Pattern] {
			seen[rt.Pattern] = true
			s.paths.HandleFunc(rt.Pattern, func(http.ResponseWriter, *http.Request) {})
		}
	}
	if err := s.dashboardRoutes(); err != nil {
		return nil, err
	}
	s.mux.HandleFunc("/", s.noRoute)
	s.runDispatcher()
	s.unsubscribe = func() {}
	if cs, ok := o.Store.(store.Changes); ok {
		changes, cancel := cs.Subscribe(context.Background())
		s.unsubscribe = cancel
		go s.followChanges(changes)
	}
	return s, nil
}

// route is one endpoint: the OpenAPI document lists exactly these (a test holds them equal).
type route struct {
	Method, Pattern string
	Scope           Scope
	handler         http.HandlerFunc
}

func (s *Server) routeTable() []route {
	return []route{
		// The dashboard's: its list, and what the token may do.
		{"GET", "/api/v1/board", ScopeRead, s.board},
		{"GET", "/api/v1/token", ScopeRead, s.tokenInfo},
		{"POST", "/api/v1/analyses", ScopeWrite, s.createAnalysis},
		{"GET", "/api/v1/analyses", ScopeRead, s.listAnalyses},
		{"GET", "/api/v1/analyses/{id}", ScopeRead, s.getAnalysis},
		{"GET", "/api/v1/analyses/{id}/verdict", ScopeRead, s.getVerdict},
		{"GET", "/api/v1/verdict", ScopeRead, s.getVerdictByKey},
		{"POST", "/api/v1/analyses/{id}/abort", ScopeWrite, s.abort},
		{"POST", "/api/v1/analyses/{id}/override", ScopeAdmin, s.override},
		{"GET", "/api/v1/analyses/{id}/events", ScopeRead, s.analysisEvents},
		{"GET", "/api/v1/events", ScopeRead, s.allEvents},
		{"GET", "/api/v1/analyses/{id}/deliveries", ScopeRead, s.listDeliveries},
		{"GET", "/api/v1/deliveries", ScopeRead, s.listDeliveries},
		{"POST", "/api/v1/deliveries/{id}/redeliver", ScopeAdmin, s.redeliver},
		{"POST", "/api/v1/endpoints/{name}/enable", ScopeAdmin, s.enableEndpoint},
		// Flagger sends no headers: its token may come in the body (flaggerTokenAuth).
		{"POST", flaggerPattern, ScopeWrite, s.flagger},
		{"GET", "/api/v1/openapi.json", ScopePublic, serveOpenAPI},
		// The receiver checks its own tokens (the receiver's and the running analyses').
		{"POST", "/v1/traces", ScopePublic, s.traces},
		{"GET", "/metrics", ScopeRead, promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{}).ServeHTTP},
		{"GET", "/healthz", ScopePublic, s.healthz},
		{"GET", "/readyz", ScopePublic, s.readyz},
	}
}

// SetSpecs replaces the specs new analyses start from (a reload). Running analyses go on with
// the specs they started with; one started again after a restart uses the specs loaded then.
func (s *Server) SetSpecs(docs *specs.Documents) {
	if docs == nil {
		docs = &specs.Documents{}
	}
	s.specs.Store(docs)
}

// Handler is the API.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.paths.Handler(r); pattern != "" {
		var allow []string
		for _, rt := range s.routes {
			if rt.Pattern == pattern {
				allow = append(allow, rt.Method)
			}
		}
		w.Header()["Allow"] = allow
		writeError(w, errorf(http.StatusMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, errorf(http.StatusNotFound, "no such endpoint: %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path))
}

func (s *Server) traces(w http.ResponseWriter, r *http.Request) {
	if s.o.Traces == nil {
		writeError(w, errorf(http.StatusNotFound, "this daemon has no trace receiver"))
		return
	}
	s.o.Traces.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the specs are loaded (they are before New), the analyses that were running are
// started again, and the store answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() || s.closing.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": "starting or stopping"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.o.Store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": "store: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// engineID names the analysis the engine is starting: the id the server chose (pendingID,
// set while startMu is held), so that an analysis keeps its id across restarts.
func (s *Server) engineID() string {
	id := s.pendingID
	s.pendingID = ""
	if id == "" {
		id = newID()
	}
	return id
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StopStreams ends the long-polls (they answer what they know) and the event streams, so that
// an http.Server can finish its in-flight requests: give it to RegisterOnShutdown.
func (s *Server) StopStreams() {
	s.stopOnce.Do(func() {
		s.closing.Store(true)
		close(s.stop)
	})
}

// Shutdown stops serving long-polls and event streams, and stops the engine: the analyses it
// interrupts stay running in the store, to start again when the daemon does or on another
// replica (their leases are released once their snapshots are saved). It waits for their
// writers (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.StopStreams()
	s.unsubscribe()
	s.stopLeases()
	s.stopPruning()
	// Under startMu: a start either finished (its writer is counted in wg) or sees the stop.
	s.startMu.Lock()
	stopped := s.engineStopped.Swap(true)
	s.startMu.Unlock()
	if stopped {
		return nil
	}
	err := s.engine.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(s.writes)
		<-s.writerDone
		// Their snapshots are saved: another replica may take them over at once.
		s.releaseAll(ctx)
		// Deliveries in flight are cut short, not recorded: their claims run out and they are
		// made again when the daemon is back.
		s.stopDispatch()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("server shutdown: %w", ctx.Err()))
	}
	return err
}

// hub wakes the event streams when events are committed: the global ones at every commit, one
// analysis's only at its own. Each stream waits on the channel wait returned before it read
// the store, so none misses a wake.
type hub struct {
	mu  sync.Mutex
	all chan struct{}
	by  map[string]chan struct{} // only while a stream of that analysis waits
}

// wait returns a channel closed at the next commit of the analysis's events (any analysis's
// for "").
func (h *hub) wait(analysis string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if analysis == "" {
		return h.all
	}
	ch, ok := h.by[analysis]
	if !ok {
		ch = make(chan struct{})
		h.by[analysis] = ch
	}
	return ch
}

// wakeAll wakes every stream: they read the store again.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.all)
	h.all = make(chan struct{})
	for id, ch := range h.by {
		close(ch)
		delete(h.by, id)
	}
}

func (h *hub) wake(analysis string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.all)
	h.all = make(chan struct{})
	if ch, ok := h.by[analysis]; ok {
		close(ch)
		delete(h.by, analysis)
	}
}

// decidedCh is closed once the analysis's verdict is committed. Take it before reading the
// store, then wait on it: a verdict committed in between is seen either way.
func (s *Server) decidedCh(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.decided[id]
	if !ok {
		ch = make(chan struct{})
		s.decided[id] = ch
	}
	return ch
}

func (s *Server) markDecided(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.decided[id]; ok {
		close(ch)
		delete(s.decided, id)
	}
	delete(s.aborted, id)
}

// wakeDecided wakes whoever waits for an analysis's verdict ("" for every analysis's): another
// replica recorded it, or may have. They read the store again.
func (s *Server) wakeDecided(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ch := range s.decided {
		if id == "" || k == id {
			close(ch)
			delete(s.decided, k)
		}
	}
}

// waitDecided waits until the analysis's verdict is committed (by this replica or, when the
// store tells of other replicas' commits, by any), ctx ends or the server stops.
func (s *Server) waitDecided(ctx context.Context, id string) error {
	for {
		ch := s.decidedCh(id)
		if _, err := s.o.Store.Verdict(ctx, id); err == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return errors.New("greenlight is shutting down")
		}
	}
}

// followChanges wakes the event streams and the verdict waits at the commits the store tells
// of, other replicas' included, and carries out the commands asked of other replicas for the
// analyses this one runs; a resync wakes them all and looks for commands (changes may have
// been missed).
func (s *Server) followChanges(changes <-chan store.Change) {
	for c := range changes {
		if c.Resync {
			s.hub.wakeAll()
			s.wakeDecided("")
			s.wakeCommand(0)
			for _, id := range s.localAnalyses() {
				go s.runCommands(id)
			}
			continue
		}
		s.hub.wake(c.Analysis)
		if c.Decided {
			s.wakeDecided(c.Analysis)
		}
		if c.Command != 0 {
			s.wakeCommand(c.Command)
			if s.runsHere(c.Analysis) {
				go s.runCommands(c.Analysis)
			}
		}
	}
}
