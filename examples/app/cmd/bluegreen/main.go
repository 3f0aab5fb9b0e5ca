// Command bluegreen serves a blue and a green copy of the greenlight example app from one
// process, sharing one store as two versions of a service share one database: an order written
// on green can be read on blue (the rollback rehearsal), and a token from one is accepted by the
// other. Ctrl-C (SIGINT) or SIGTERM stops both; nothing is left running.
//
//	go run ./examples/app/cmd/bluegreen                 # blue :8081, green :8082, alike
//	go run ./examples/app/cmd/bluegreen -regressed      # green slower, 3% of its orders fail
//	go run ./examples/app/cmd/bluegreen -incompatible   # blue cannot read green's orders
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/greenlight/greenlight/examples/app"
)

// shutdownGrace is how long in-flight requests get to finish after a signal.
const shutdownGrace = 5 * time.Second

type options struct {
	blueAddr, greenAddr     string
	otlp                    string
	regressed, incompatible bool
}

func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bluegreen", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.blueAddr, "blue", "127.0.0.1:8081", "blue's listen address (v1, serving users)")
	fs.StringVar(&o.greenAddr, "green", "127.0.0.1:8082", "green's listen address (v2, the candidate)")
	fs.StringVar(&o.otlp, "otlp", "http://127.0.0.1:4318/v1/traces", "where both send their spans: the OTLP/HTTP receiver of greenlight verify with the bundled analysis (empty: none)")
	fs.BoolVar(&o.regressed, "regressed", false, "green's profile three times slower and 3% of its orders failing, as in greenlight demo")
	fs.BoolVar(&o.incompatible, "incompatible", false, "green writes orders in format 2 and blue refuses to read them (the rollback rehearsal then fails)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// configs returns blue's and green's configurations, sharing one store.
func configs(o options) (blue, green app.Config) {
	store := app.NewStore()
	profile := func(latency, jitter time.Duration) app.Faults {
		return app.Faults{
			Latency: map[string]app.Duration{"/api/user/profile": app.Duration(latency)},
			Jitter:  map[string]app.Duration{"/api/user/profile": app.Duration(jitter)},
		}
	}
	blue = app.Config{Color: "blue", Version: "v1", Store: store, Faults: profile(20*time.Millisecond, 10*time.Millisecond), OTLPEndpoint: o.otlp}
	green = app.Config{Color: "green", Version: "v2", Store: store, Faults: profile(20*time.Millisecond, 10*time.Millisecond), OTLPEndpoint: o.otlp}
	if o.regressed {
		green.Faults = profile(60*time.Millisecond, 30*time.Millisecond)
		green.Faults.ErrorRate = map[string]float64{"/api/orders": 0.03}
	}
	if o.incompatible {
		blue.StrictRead, green.OrderFormat = true, 2
	}
	return blue, green
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		fmt.Fprintln(os.Stderr, "bluegreen:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// Spans are sent whether or not a greenlight verify is receiving them; when none is, that is
	// not news worth a line per batch.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, logger, nil)
	stop()
	if err != nil {
		logger.Error("bluegreen failed", "err", err)
		os.Exit(1)
	}
}

// run serves blue and green until ctx is done, then shuts both down. ready, if set, is called
// with their base URLs once both listen.
func run(ctx context.Context, o options, logger *slog.Logger, ready func(blue, green string)) error {
	blueCfg, greenCfg := configs(o)
	var lc net.ListenConfig
	blueLn, err := lc.Listen(ctx, "tcp", o.blueAddr)
	if err != nil {
		return fmt.Errorf("blue: listen: %w", err)
	}
	greenLn, err := lc.Listen(ctx, "tcp", o.greenAddr)
	if err != nil {
		blueLn.Close()
		return fmt.Errorf("green: listen: %w", err)
	}
	apps := []*app.App{app.New(blueCfg), app.New(greenCfg)}
	servers := []*http.Server{
		{Handler: apps[0], ReadHeaderTimeout: 10 * time.Second},
		{Handler: apps[1], ReadHeaderTimeout: 10 * time.Second},
	}
	serveErr := make(chan error, 2)
	for i, ln := range []net.Listener{blueLn, greenLn} {
		go func() { serveErr <- servers[i].Serve(ln) }()
	}
	blueURL, greenURL := "http://"+blueLn.Addr().String(), "http://"+greenLn.Addr().String()
	logger.Info("serving; Ctrl-C stops both", "blue", blueURL, "green", greenURL, "regressed", o.regressed, "incompatible", o.incompatible)
	if ready != nil {
		ready(blueURL, greenURL)
	}

	var failed error
	select {
	case err := <-serveErr:
		failed = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	for i, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil && failed == nil {
			failed = fmt.Errorf("shutdown: %w", err)
		}
		apps[i].Close(shutdownCtx) // the last spans; a receiver that is gone is no failure
	}
	return failed
}
