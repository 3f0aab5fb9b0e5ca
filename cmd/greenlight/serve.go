package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/postgres"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// Defaults of greenlight serve.
const (
	defaultListen          = "127.0.0.1:8080"
	defaultData            = "greenlight-data"
	defaultShutdownTimeout = 20 * time.Second // within interruptGrace, so the store closes cleanly
	defaultRetention       = 30 * 24 * time.Hour
)

func newServeCmd() *cobra.Command {
	var st serveSettings
	cmd := &cobra.Command{
		Use:   "serve --config DIR",
		Short: "Run the daemon: an HTTP API that starts analyses and answers their verdicts",
		Long: `Serve loads and validates every Suite and Analysis in --config (refusing to start, exit 3,
on a bad spec) and serves the API of docs/serve.md: start analyses by name (idempotent on a
key), long-poll their verdicts, abort and override them, follow their events. Everything is
kept in the store (SQLite in --data by default, or PostgreSQL: --store) and survives a restart: decided verdicts stay
as they were, running analyses start again.

Every flag can also be set in the environment (GREENLIGHT_LISTEN, GREENLIGHT_DATA, …: the flag's
name in capitals, - as _) or in the YAML file --config-file names (its keys are the flags'
names). A flag given wins over the environment, which wins over the file.

API tokens come from --tokens-file (lines of NAME SCOPE TOKEN; scopes read, write, admin) and
GREENLIGHT_TOKEN (one token with every scope). Without any token the daemon listens on loopback
only, unless --allow-unauthenticated.

SIGHUP reloads the specs and the Notifications endpoints: valid, new analyses start from them
(running ones go on with theirs) and events go to the new endpoints; invalid, they are refused
with every problem and the ones loaded before are kept.

A Notifications document among the specs configures where analyses' events are delivered
(signed webhooks, Slack), durably: see docs/webhooks.md. --external-url is the daemon's address
as receivers reach it; payloads link to the analysis there.

SIGTERM or SIGINT stops it gracefully: in-flight requests finish, running analyses are left
running in the store and start again with the daemon.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := st.resolve(cmd); err != nil {
				return err
			}
			return st.serve(cmd.Context(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&st.configFile, "config-file", "", "a YAML file of settings: its keys are these flags' names")
	f.StringVar(&st.config, "config", "", "the folder (or file) of Suites and Analyses to serve (required)")
	f.StringVar(&st.listen, "listen", defaultListen, "the address to serve the API on")
	f.StringVar(&st.data, "data", defaultData, "the folder where the embedded store lives")
	f.StringVar(&st.store, "store", "", "the store: sqlite:PATH (default: SQLite in --data) or postgres://USER:PASSWORD@HOST:PORT/DATABASE (a secret: prefer GREENLIGHT_STORE)")
	f.StringVar(&st.tokensFile, "tokens-file", "", "API tokens, one a line: NAME SCOPE TOKEN (scope read, write or admin)")
	f.StringVar(&st.tracesTokenFile, "traces-token-file", "", "a file holding the bearer token the OTLP receiver (/v1/traces) accepts from any sender")
	f.StringVar(&st.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain), read again when it changes")
	f.StringVar(&st.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.BoolVar(&st.allowUnauthenticated, "allow-unauthenticated", false, "serve beyond loopback without API tokens (anyone who reaches it can start, abort and override)")
	f.StringVar(&st.externalURL, "external-url", "", "the daemon's address as receivers reach it (https://greenlight.example.com): payloads link to the analysis there")
	f.StringVar(&st.logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&st.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a graceful stop may take")
	f.DurationVar(&st.leaseTTL, "lease-ttl", server.DefaultLeaseTTL, "how long a replica's lease of a running analysis lasts unrenewed: how soon another replica takes over those of one that died")
	f.DurationVar(&st.retention, "retention", defaultRetention, "how long a decided analysis is kept after its verdict (or last override), then deleted with its events and deliveries (audit entries are kept); 0 keeps everything")
	return cmd
}

// serveSettings are greenlight serve's flags.
type serveSettings struct {
	configFile, config, listen, data, store, tokensFile, tracesTokenFile, logLevel string
	tlsCert, tlsKey, externalURL                                                   string
	allowUnauthenticated                                                           bool
	shutdownTimeout, leaseTTL, retention                                           time.Duration
}

// envName is a flag's environment variable: --tokens-file is GREENLIGHT_TOKENS_FILE.
func envName(flag string) string {
	return "GREENLIGHT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// resolve fills the flags not given from the environment, then from the settings file.
func (st *serveSettings) resolve(cmd *cobra.Command) error {
	f := cmd.Flags()
	if !f.Changed("config-file") {
		if v, ok := os.LookupEnv(envName("config-file")); ok {
			st.configFile = v
		}
	}
	file := map[string]settingValue{}
	if st.configFile != "" {
		var err error
		if file, err = readSettings(st.configFile, func(name string) bool { return f.Lookup(name) != nil && name != "config-file" }); err != nil {
			return invalid("%v", err)
		}
	}
	var problems []string
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "config-file" || fl.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(fl.Name)); ok {
			if err := fl.Value.Set(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", envName(fl.Name), v, err))
			}
			return
		}
		if v, ok := file[fl.Name]; ok {
			if err := fl.Value.Set(v.value); err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d:%d: %s: %v", st.configFile, v.line, v.column, fl.Name, err))
			}
		}
	})
	if len(problems) > 0 {
		return invalid("%s", strings.Join(problems, "\n"))
	}
	if st.config == "" {
		return invalid("no specs: give --config DIR (or GREENLIGHT_CONFIG), the folder of the Suites and Analyses to serve")
	}
	switch st.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("--log-level %q: want debug, info, warn or error", st.logLevel)
	}
	if st.shutdownTimeout <= 0 {
		return invalid("--shutdown-timeout must be positive")
	}
	if st.retention < 0 {
		return invalid("--retention %v: want a duration, or 0 to keep every analysis", st.retention)
	}
	if st.leaseTTL < server.MinLeaseTTL {
		return invalid("--lease-ttl %v: want at least %v", st.leaseTTL, server.MinLeaseTTL)
	}
	return checkExternalURL(st.externalURL)
}

// serve runs the daemon until ctx ends.
func (st *serveSettings) serve(ctx context.Context, stderr io.Writer) error {
	var level slog.Level
	_ = level.UnmarshalText([]byte(st.logLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	docs, err := loadSpecsCtx(ctx, []string{st.config}, nil)
	if err != nil {
		return err
	}
	if err := checkAnalyses(docs); err != nil {
		return err
	}
	notify, delivery, err := notifications(ctx, docs, st.externalURL)
	if err != nil {
		return err
	}
	tokens, err := st.tokens()
	if err != nil {
		return err
	}
	tracesToken, err := readTokenFile(st.tracesTokenFile, "--traces-token-file")
	if err != nil {
		return err
	}
	tlsCfg, err := st.tlsConfig(logger)
	if err != nil {
		return err
	}
	ln, err := listen(ctx, st.listen)
	if err != nil {
		return invalid("--listen %s: %v", st.listen, err)
	}
	defer ln.Close()
	if tokens.Len() == 0 && !loopbackAddr(ln.Addr()) && !st.allowUnauthenticated {
		return invalid("--listen %s: without API tokens (--tokens-file, GREENLIGHT_TOKEN) the daemon serves loopback only; give tokens, or --allow-unauthenticated", ln.Addr())
	}
	rcv, err := traces.NewReceiver(traces.Config{Token: tracesToken}, logger)
	if err != nil {
		return invalid("%v", err)
	}
	if err := rcv.CheckListener(ln.Addr()); err != nil {
		return invalid("--listen %s: %v (--traces-token-file)", st.listen, err)
	}
	db, where, err := st.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	runner := smoke.NewRunner("greenlight/"+appVersion(), logger)
	if nw, ok := ctx.Value(networkKey{}).(network); ok {
		runner.DialContext = nw.DialContext
	}
	defer runner.CloseIdle()
	srv, err := server.New(server.Options{
		Store: db, Specs: docs, Tokens: tokens, Traces: rcv, Registry: reg, Logger: logger,
		Notifications: notify, Delivery: delivery, LeaseTTL: st.leaseTTL, Retention: st.retention,
		Engine: analysis.EngineOptions{Runner: runner, Metrics: synthetic.NewMetrics(reg), Logger: logger, Traces: rcv, TracesAddr: ln.Addr().String()},
	})
	if err != nil {
		return &exitError{code: verdict.ExitInternal, err: err}
	}
	if err := srv.Resume(ctx); err != nil {
		return &exitError{code: verdict.ExitInternal, err: err}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	hs.RegisterOnShutdown(srv.StopStreams)
	// SIGHUP reloads the specs from now on (its default would end the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	served := make(chan error, 1)
	scheme := "http"
	if tlsCfg != nil {
		scheme, hs.TLSConfig = "https", tlsCfg
		go func() { served <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	url := scheme + "://" + ln.Addr().String()
	logger.Info("serving", "url", url, "analyses", len(docs.Analyses), "suites", len(docs.Suites),
		"store", where, "tokens", tokens.Len())
	fmt.Fprintf(stderr, "greenlight: serving on %s\n", url)

	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err := <-served:
			_ = srv.Shutdown(context.WithoutCancel(ctx))
			return &exitError{code: verdict.ExitInternal, err: fmt.Errorf("serve: %w", err)}
		case <-hup:
			st.reload(ctx, srv, stderr, logger)
		}
	}
	logger.Info("stopping: finishing in-flight requests; running analyses start again with the daemon", "cause", context.Cause(ctx))
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.shutdownTimeout)
	defer cancel()
	err = errors.Join(hs.Shutdown(stopCtx), srv.Shutdown(stopCtx))
	if err != nil {
		return &exitError{code: verdict.ExitInternal, err: fmt.Errorf("stopping: %w", err)}
	}
	logger.Info("stopped")
	return nil
}

// reload loads and checks the specs again (SIGHUP): valid, they replace the ones new analyses
// start from; invalid, they are refused with every problem and the ones loaded before are kept.
func (st *serveSettings) reload(ctx context.Context, srv *server.Server, stderr io.Writer, logger *slog.Logger) {
	docs, err := loadSpecs([]string{st.config}, nil)
	if err == nil {
		err = checkAnalyses(docs)
	}
	var notify *server.Notifications
	if err == nil {
		// The retry policy and lease stay as they were at start; endpoints, their emitters and
		// routes are replaced.
		notify, _, err = notifications(ctx, docs, st.externalURL)
	}
	if err != nil {
		logger.Error("reload refused: the specs loaded before are kept", "config", st.config)
		fmt.Fprintf(stderr, "greenlight: reload refused, the specs loaded before are kept: %v\n", err)
		return
	}
	srv.SetSpecs(docs)
	srv.SetNotifications(notify)
	logger.Info("specs reloaded", "config", st.config, "analyses", len(docs.Analyses), "suites", len(docs.Suites), "endpoints", len(notify.Endpoints))
	fmt.Fprintf(stderr, "greenlight: specs reloaded: %d analyses, %d suites, %d endpoints\n", len(docs.Analyses), len(docs.Suites), len(notify.Endpoints))
}

// checkAnalyses compiles every analysis as a start would, with a stand-in URL for each
// environment the spec leaves to the caller: what cannot compile now never could.
func checkAnalyses(docs *specs.Documents) error {
	var problems []string
	for _, a := range docs.Analyses {
		o := analysis.Options{Analysis: a, Envs: map[string]string{}}
		for name, e := range a.Environments {
			if e.URL == "" {
				o.Envs[name] = "http://" + name + ".invalid"
			}
		}
		if a.Baseline == "" || a.Candidate == "" {
			// Roles may come with each request.
			o.Baseline, o.Candidate = "stand-in-baseline", "stand-in-candidate"
			o.Envs[o.Baseline], o.Envs[o.Candidate] = "http://baseline.invalid", "http://candidate.invalid"
		}
		if _, err := analysis.Compile(o); err != nil {
			msg := strings.TrimPrefix(err.Error(), analysis.ErrInvalid.Error()+": ")
			problems = append(problems, fmt.Sprintf("%s: analysis %s: %s", a.Pos, a.Metadata.Name, o.Redactor().Redact(msg)))
		}
	}
	if len(problems) > 0 {
		return invalid("invalid spec:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

// tokens reads --tokens-file and GREENLIGHT_TOKEN (named "env", every scope).
func (st *serveSettings) tokens() (*server.Tokens, error) {
	tokens := &server.Tokens{}
	if st.tokensFile != "" {
		f, err := os.Open(st.tokensFile)
		if err != nil {
			return nil, invalid("--tokens-file %s: %v", st.tokensFile, describeOpenError(err))
		}
		defer f.Close()
		if tokens, err = server.ParseTokens(f, st.tokensFile); err != nil {
			return nil, invalid("--tokens-file: %v", err)
		}
	}
	if v, ok := os.LookupEnv("GREENLIGHT_TOKEN"); ok {
		if err := tokens.Add("env", server.ScopeAdmin, secret.Secret(strings.TrimSpace(v))); err != nil {
			return nil, invalid("GREENLIGHT_TOKEN: %v", err)
		}
	}
	return tokens, nil
}

// readTokenFile reads a file holding one token ("" when no file is given).
func readTokenFile(path, flag string) (secret.Secret, error) {
	if path == "" {
		return "", nil
	}
	b, err := specs.ReadFileLimited(path, 4096)
	if err != nil {
		return "", invalid("%s %s: %v", flag, path, describeOpenError(err))
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < server.MinTokenLength {
		return "", invalid("%s %s: the token is shorter than %d characters", flag, path, server.MinTokenLength)
	}
	return secret.Secret(tok), nil
}

func describeOpenError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openStore opens the store --store names, or SQLite in --data, and says where it is (for the
// log: a SQLite file, or a PostgreSQL database without its password).
func (st *serveSettings) openStore(ctx context.Context) (store.Store, string, error) {
	path := filepath.Join(st.data, "greenlight.db")
	switch dsn := st.store; {
	case dsn == "":
		if err := os.MkdirAll(st.data, 0o700); err != nil {
			return nil, "", &exitError{code: verdict.ExitInternal, err: fmt.Errorf("--data %s: %w", st.data, err)}
		}
	case strings.HasPrefix(dsn, "sqlite:"):
		path = strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if path == "" {
			return nil, "", invalid("--store %q: want sqlite:PATH", dsn)
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		// The DSN is a secret: no message quotes it (the store's errors redact its password).
		db, err := postgres.Open(ctx, dsn)
		if errors.Is(err, postgres.ErrDSN) {
			return nil, "", invalid("--store: %v", err)
		}
		if err != nil {
			return nil, "", &exitError{code: verdict.ExitInternal, err: err}
		}
		return db, "postgres://" + db.Target(), nil
	default:
		return nil, "", invalid("--store %q: want sqlite:PATH or postgres://…", redactURL(dsn))
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", &exitError{code: verdict.ExitInternal, err: err}
	}
	return db, db.Path(), nil
}

// listen opens the API's listener, on the test network when a test gave one.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	if nw, ok := ctx.Value(networkKey{}).(network); ok {
		return nw.Listen("tcp", addr)
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

func loopbackAddr(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
