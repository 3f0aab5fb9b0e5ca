package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// interruptGrace is how long a run may take to wind down after the first signal (stop the
// probes, render and write the reports) before greenlight exits regardless.
const interruptGrace = 30 * time.Second

// interrupts turns SIGINT and SIGTERM into a cancelled context, so that a run ends with an
// explicit "interrupted" outcome and still writes every report it was asked for. Some work
// cannot be cancelled — loading specs — so while it runs, or on a second signal, or when the
// run has not ended interruptGrace after the first, greenlight exits at once with
// ExitInterrupted.
type interrupts struct {
	cancel  context.CancelCauseFunc
	stderr  io.Writer
	exit    func(verdict.ExitCode)
	grace   time.Duration
	loading atomic.Int32 // > 0 while specs load
	mu      sync.Mutex
	timer   *time.Timer
}

func newInterrupts(cancel context.CancelCauseFunc, stderr io.Writer, exit func(verdict.ExitCode)) *interrupts {
	return &interrupts{cancel: cancel, stderr: stderr, exit: exit, grace: interruptGrace}
}

// watch handles signals until done is closed.
func (in *interrupts) watch(sigs <-chan os.Signal, done <-chan struct{}) {
	first := true
	for {
		select {
		case <-done:
			in.mu.Lock()
			if in.timer != nil {
				in.timer.Stop()
			}
			in.mu.Unlock()
			return
		case sig := <-sigs:
			name := signalName(sig)
			switch {
			case in.loading.Load() > 0:
				fmt.Fprintf(in.stderr, "greenlight: %s while loading specs: stopped, nothing ran\n", name)
				in.exit(verdict.ExitInterrupted)
			case !first:
				fmt.Fprintf(in.stderr, "greenlight: second %s: stopping now, reports may be missing\n", name)
				in.exit(verdict.ExitInterrupted)
			default:
				first = false
				fmt.Fprintf(in.stderr, "greenlight: %s: stopping and writing reports (again to stop at once)\n", name)
				in.cancel(fmt.Errorf("interrupted by %s", name))
				in.mu.Lock()
				in.timer = time.AfterFunc(in.grace, func() {
					fmt.Fprintf(in.stderr, "greenlight: still stopping %s after %s: exiting now\n", name, in.grace)
					in.exit(verdict.ExitInterrupted)
				})
				in.mu.Unlock()
			}
		}
	}
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

type interruptsKey struct{}

func withInterrupts(ctx context.Context, in *interrupts) context.Context {
	return context.WithValue(ctx, interruptsKey{}, in)
}

// uncancellable runs work that does not watch ctx (loading specs): a signal during it ends the
// process at once rather than waiting for the work to finish.
func uncancellable(ctx context.Context, work func()) {
	if in, _ := ctx.Value(interruptsKey{}).(*interrupts); in != nil {
		in.loading.Add(1)
		defer in.loading.Add(-1)
	}
	work()
}

// loadSpecsCtx loads specs where a signal stops the process at once, and refuses to go on when
// the context already ended.
func loadSpecsCtx(ctx context.Context, paths []string, vars map[string]string) (docs *specs.Documents, err error) {
	return loadSpecsWith(ctx, paths, specs.LoadOptions{Vars: vars})
}

// loadSpecsWith is loadSpecsCtx with the loader's options.
func loadSpecsWith(ctx context.Context, paths []string, opts specs.LoadOptions) (docs *specs.Documents, err error) {
	if ctx.Err() != nil {
		return nil, &exitError{code: verdict.ExitInterrupted, err: context.Cause(ctx)}
	}
	uncancellable(ctx, func() { docs, err = loadSpecsOpts(paths, opts) })
	return docs, err
}
