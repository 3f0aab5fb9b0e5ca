package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// route is one entry of the API. The table below is the single place a
// route is declared: the mux, the 405 fallbacks and the fault keys all
// derive from it.
type route struct {
	method, path string
	handle       func(*App, http.ResponseWriter, *http.Request)
	auth         bool // needs a bearer token
	noFaults     bool // exempt from fault injection
}

var routes = []route{
	{method: "GET", path: "/health", handle: (*App).health},
	{method: "POST", path: "/auth/login", handle: (*App).login},
	{method: "GET", path: "/api/user/profile", handle: (*App).profile, auth: true},
	{method: "POST", path: "/api/orders", handle: (*App).createOrder, auth: true},
	{method: "GET", path: "/api/orders/{id}", handle: (*App).getOrder, auth: true},
	{method: "GET", path: "/slow", handle: (*App).slow},
	{method: "GET", path: "/redirect", handle: (*App).redirect},
	// Faults never apply here, so a test can always take them back.
	{method: "GET", path: "/admin/faults", handle: (*App).getFaults, noFaults: true},
	{method: "PUT", path: "/admin/faults", handle: (*App).putFaults, noFaults: true},
}

// faultKeys are the distinct paths of routes subject to faults, in table
// order; faultTable.routes is indexed the same way. It is filled in init
// because the handlers in routes refer back to it through Faults.Validate.
var faultKeys []string

func init() {
	for _, rt := range routes {
		if !rt.noFaults && !slices.Contains(faultKeys, rt.path) {
			faultKeys = append(faultKeys, rt.path)
		}
	}
}

// App is one running version of the service. It implements http.Handler
// and is safe for concurrent use.
type App struct {
	cfg    Config // with defaults applied
	store  *Store
	log    *slog.Logger
	rng    *rng
	faults atomic.Pointer[faultTable]
	mux    *http.ServeMux
	met    *metrics
	tr     *tracing // nil unless Config.OTLPEndpoint is set

	healthBody, profileBody []byte
}

// New builds an App from cfg. Invalid fault settings are clamped rather
// than rejected (see Faults.Validate).
func New(cfg Config) *App {
	cfg = cfg.withDefaults()
	a := &App{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger.With("color", cfg.Color, "version", cfg.Version),
		rng:   newRNG(cfg.Seed),
		mux:   http.NewServeMux(),
		met:   newMetrics(),
	}
	a.faults.Store(compileFaults(cfg.Faults))
	if cfg.OTLPEndpoint != "" {
		tr, err := newTracing(cfg)
		if err != nil {
			a.log.Warn("tracing disabled", "err", err)
		} else {
			a.tr = tr
		}
	}
	a.healthBody = mustJSON(struct {
		Status  string `json:"status"`
		Color   string `json:"color"`
		Version string `json:"version"`
	}{"ok", cfg.Color, cfg.Version})
	a.profileBody = mustJSON(struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
		Email    string `json:"email"`
	}{1, cfg.Username, cfg.Username + "@example.com"})
	a.registerRoutes()
	return a
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("app: encode static body: " + err.Error())
	}
	return append(b, '\n')
}

func (a *App) registerRoutes() {
	allowed := map[string][]string{}
	var paths []string
	a.mux.Handle("GET /metrics", a.met.handler())
	for _, rt := range routes {
		a.mux.HandleFunc(rt.method+" "+rt.path, a.met.instrument(rt.path, a.tr.instrument(rt.method, rt.path, a.wrap(rt))))
		if _, seen := allowed[rt.path]; !seen {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == "GET" {
			allowed[rt.path] = append(allowed[rt.path], "HEAD")
		}
	}
	// The mux's own 404 and 405 answers are text/plain; these method-less
	// patterns are less specific than the ones above, so they only catch
	// what would otherwise get those, and answer in JSON.
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		a.mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		})
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
}

// wrap puts fault injection and authentication in front of a handler. All
// per-route decisions are made here, once, so a request pays only for the
// checks its route needs.
func (a *App) wrap(rt route) http.HandlerFunc {
	h := func(w http.ResponseWriter, r *http.Request) { rt.handle(a, w, r) }
	if rt.auth {
		inner := h
		h = func(w http.ResponseWriter, r *http.Request) {
			if a.authorize(w, r) {
				inner(w, r)
			}
		}
	}
	if rt.noFaults {
		return h
	}
	idx := slices.Index(faultKeys, rt.path)
	return func(w http.ResponseWriter, r *http.Request) {
		if a.inject(w, r, a.faults.Load().routes[idx]) {
			h(w, r)
		}
	}
}

// Close flushes and stops the app's span export, if any.
func (a *App) Close(ctx context.Context) error { return a.tr.shutdown(ctx) }

// ServeHTTP implements http.Handler.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// SetFaults replaces all fault knobs at once; requests already past fault
// injection are not affected. Unknown route keys are ignored and values
// clamped; call Faults.Validate first to reject them instead.
func (a *App) SetFaults(f Faults) {
	a.faults.Store(compileFaults(f))
	a.log.Info("faults set", "faults", f)
}

// Faults returns a copy of the current fault knobs.
func (a *App) Faults() Faults { return a.faults.Load().spec.clone() }

// Store returns the store the app reads and writes, which is the one from
// Config or the private one New made.
func (a *App) Store() *Store { return a.store }
