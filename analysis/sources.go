package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/greenlight/greenlight/analysis/datadog"
	"github.com/greenlight/greenlight/analysis/jaeger"
	"github.com/greenlight/greenlight/analysis/prometheus"
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// sources are the metric and trace sources one analysis declares, built once for the whole run
// (the trace receiver must keep receiving across phases).
type sources struct {
	a *specs.Analysis
	// clients are the declared sources by kind (specs.SourceKinds); the trace source is the
	// view below.
	clients map[string]source.Source
	traces  *traces.View     // the analysis's view of a trace receiver: its own, or the Engine's
	rcv     *traces.Receiver // its own trace receiver; nil with the Engine's
	srv     *http.Server
	addr    string   // where the trace receiver is served
	release []func() // gives back the clients taken from the Engine's cache
}

// sharedTraces is the Engine's trace receiver, when it has one (EngineOptions.Traces), and
// where the process serves it.
type sharedTraces struct {
	rcv  *traces.Receiver
	addr string
}

// dialClient is an HTTP client dialling through dial (Options.DialContext), or nil (a source's
// own, or the Engine's) on the host's network.
func dialClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	if dial == nil {
		return nil
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: dial}}
}

// sourceKinds are the sources an analysis can read, by their key under sources: the one place
// this package names a source (TestSourceKindsMatchSpecs holds its keys equal to
// specs.SourceKinds). Everything else it knows of a source is in the source's source.Kind.
//
// Adding a source — Jaeger, say — is its package beside analysis/source (the client, its
// queries, and its Kind building both from the spec's types) and one line here; the checks
// read its answers by their shape (counts, latencies, a histogram, values), and the plan,
// the run loop and the verdict need nothing. The spec language names it too (its config type,
// its key under sources: and under each check kind that can read it: see specs.sourceKind).
var sourceKinds = map[string]source.Kind{
	"prometheus": prometheus.Kind,
	"datadog":    datadog.Kind,
	"jaeger":     jaeger.Kind,
	// The trace receiver is the Engine's or the analysis's own: openTraces builds the view.
	"traces": traces.Kind,
}

// sharedClients are the Engine's for the sources of its analyses: one cache of source clients,
// the HTTP client they send through, and the logger of clients that serve several analyses.
type sharedClients struct {
	cache  *clientCache
	http   *http.Client
	logger *slog.Logger
}

// sourceEnv is what an analysis's sources are built with.
type sourceEnv struct {
	logger    *slog.Logger
	lookupEnv func(string) (string, bool)
	http      *http.Client // nil: each source makes its own
	listen    func(network, addr string) (net.Listener, error)
	shared    sharedTraces
	cache     *clientCache // the Engine's; nil: nothing shared
}

// sourceEnv is what the analysis's sources are built with: its own network's client when it
// has one (Options.DialContext), else the Engine's; the Engine's cache and logger with an
// Engine, so that a client serving several analyses logs as none of them.
func (o Options) sourceEnv(logger *slog.Logger) sourceEnv {
	env := sourceEnv{logger: logger, lookupEnv: o.LookupEnv, http: o.httpClient, listen: o.Listen, shared: o.traces}
	if c := o.clients; c.cache != nil {
		env.cache, env.logger = c.cache, c.logger
		if env.http == nil {
			env.http = c.http
		}
	}
	return env
}

// newSources builds what the analysis declares and starts its own trace receiver's listener;
// with a shared receiver it takes a view of that one instead, and sources.traces.listen is not
// used. Close the sources when the run ends.
func newSources(a *specs.Analysis, env sourceEnv) (*sources, error) {
	s, err := buildSources(a, env)
	if err != nil {
		return nil, err
	}
	if err := s.listen(env.listen); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// buildSources builds the clients and the trace view the analysis declares, without I/O:
// Compile binds every check to them to refuse a bad query before anything runs. A client whose
// Kind has a Key comes from the Engine's cache when there is one. Without a shared receiver the
// trace view is of a receiver of the analysis's own, which listen serves.
func buildSources(a *specs.Analysis, env sourceEnv) (*sources, error) {
	s := &sources{a: a, clients: map[string]source.Source{}}
	deps := source.Deps{HTTPClient: env.http, Logger: env.logger, LookupEnv: env.lookupEnv}
	for _, kind := range specs.SourceKinds() {
		if !a.Sources.Declared(kind) {
			continue
		}
		k, ok := sourceKinds[kind]
		if !ok {
			s.close()
			return nil, fmt.Errorf("sources.%s: this build of greenlight cannot read it", kind)
		}
		var src source.Source
		var err error
		switch {
		case k.Open == nil:
			src, err = s.openTraces(env.logger, env.shared)
		case k.Key == nil:
			src, err = k.Open(&a.Sources, deps)
		default:
			var release func()
			src, release, err = env.cache.acquire(env.http, k.Key(&a.Sources, deps), func() (source.Source, error) {
				return k.Open(&a.Sources, deps)
			})
			if err == nil {
				s.release = append(s.release, release)
			}
		}
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sources.%s: %w", kind, err)
		}
		s.clients[kind] = src
	}
	return s, nil
}

// openTraces takes the analysis's view of a trace receiver: the Engine's shared one, or one of
// its own that listen serves.
func (s *sources) openTraces(logger *slog.Logger, shared sharedTraces) (source.Source, error) {
	t := s.a.Sources.Traces
	cfg := traces.ViewConfig{Attribute: t.Attribute, Values: t.Values}
	rcv := shared.rcv
	if rcv == nil {
		own, err := traces.NewReceiver(traces.Config{Token: t.TokenSecret()}, logger)
		if err != nil {
			return nil, err
		}
		rcv, s.rcv = own, own
	} else {
		// The shared receiver accepts the analysis's token while its view is open.
		cfg.Token, s.addr = t.TokenSecret(), shared.addr
	}
	v, err := rcv.View(cfg)
	if err != nil {
		return nil, err
	}
	s.traces = v
	return v, nil
}

// listen starts the trace receiver's listener, when the analysis has a receiver of its own;
// listen nil listens on the host's network.
func (s *sources) listen(listen func(network, addr string) (net.Listener, error)) error {
	if t := s.a.Sources.Traces; t != nil && s.rcv != nil {
		rcv := s.rcv
		if listen == nil {
			listen = net.Listen
		}
		ln, err := listen("tcp", t.Listen)
		if err != nil {
			return fmt.Errorf("sources.traces: listen on %s: %w", t.Listen, err)
		}
		// The spec refuses such an address at load; this holds for one set later (Options.TracesListen,
		// an embedding program) and judges what was actually bound.
		if t.TokenSecret() == "" && !loopback(ln.Addr()) {
			_ = ln.Close()
			return fmt.Errorf("sources.traces: listening on %s (%s) lets other hosts post spans that decide the verdict: "+
				"set sources.traces.token, or listen on loopback (%s)", t.Listen, ln.Addr(), specs.DefaultTracesListen)
		}
		mux := http.NewServeMux()
		mux.Handle("/v1/traces", rcv)
		s.addr = ln.Addr().String()
		s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { _ = s.srv.Serve(ln) }()
	}
	return nil
}

// loopback reports whether a bound address is reachable from this host only.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func (s *sources) close() {
	if s == nil {
		return
	}
	if s.srv != nil {
		_ = s.srv.Close()
	}
	if s.traces != nil {
		s.traces.Close()
	}
	for _, release := range s.release {
		release()
	}
	s.release = nil
}

func (s *sources) interval(kind string) time.Duration { return s.a.Sources.Interval(kind) }

// bind gives a check that reads a source its compare check and its poll, through its kind's
// source bind and the query the source compiles for it.
func (s *sources) bind(c *check, sc *specs.Check, cfg compare.Config, k checkKind) error {
	src, ok := s.clients[c.kind]
	if !ok {
		return fmt.Errorf("sources.%s is not declared", c.kind)
	}
	if k.source == nil {
		return fmt.Errorf("a %s check cannot read %s", sc.Kind(), c.kind)
	}
	q, err := sourceKinds[c.kind].Query(sc)
	if err != nil {
		return err
	}
	// q is nil when the check reads the source itself (a trace shape).
	return k.source(c, sc, cfg, src, q)
}
