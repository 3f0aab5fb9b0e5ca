// Command exampleapp serves the greenlight example app on its own, so that
// two copies (a blue and a green) can stand in for a real deployment in the
// demo or in manual tests. Its API and flags are described in the package
// README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/greenlight/greenlight/examples/app"
)

// shutdownGrace is how long in-flight requests get to finish after a
// signal before connections are dropped.
const shutdownGrace = 10 * time.Second

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		// The flag package has already printed usage for a bad flag; a
		// semantic error (an unknown fault route) has not been shown yet.
		fmt.Fprintln(os.Stderr, "exampleapp:", err)
		os.Exit(2)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, logger)
	stop()
	if err != nil {
		logger.Error("exampleapp failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, o options, logger *slog.Logger) error {
	o.cfg.Logger = logger

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           app.New(o.cfg),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Logged after Listen so "-addr :0" reports the port actually chosen.
	logger.Info("listening", "addr", ln.Addr().String(), "color", o.cfg.Color, "version", o.cfg.Version,
		"orderFormat", o.cfg.OrderFormat, "strictRead", o.cfg.StrictRead, "faults", o.cfg.Faults)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
