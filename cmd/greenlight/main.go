// Command greenlight decides whether a blue-green deployment may be promoted. This package only
// wires flags to the engine: one file per subcommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/verdict"
)

func main() {
	os.Exit(int(run(os.Args[1:], os.Stdout, os.Stderr)))
}

// exitError carries an exit code (DESIGN.md) through cobra.
type exitError struct {
	code verdict.ExitCode
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func invalid(format string, args ...any) error {
	return &exitError{code: verdict.ExitInvalid, err: fmt.Errorf(format, args...)}
}

// exitWith ends a command with a code and no further message (the command has printed its own).
func exitWith(code verdict.ExitCode) error {
	if code == verdict.ExitPass {
		return nil
	}
	return &exitError{code: code}
}

// run executes the CLI and returns its exit code; tests call it directly. SIGINT and SIGTERM
// cancel the command's context: a run then ends with an explicit "interrupted" (exit 5) and
// writes its reports with what was known (see interrupts).
func run(args []string, stdout, stderr io.Writer) verdict.ExitCode {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	in := newInterrupts(cancel, stderr, func(code verdict.ExitCode) { os.Exit(int(code)) })
	done := make(chan struct{})
	defer close(done)
	go in.watch(sigs, done)
	return execute(withInterrupts(ctx, in), args, stdout, stderr)
}

// execute runs the command tree under ctx. A panic anywhere on this goroutine becomes a clear
// message and ExitInternal instead of Go's crash and exit 2 (which would read as inconclusive).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) verdict.ExitCode {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return executeRoot(ctx, root, stderr)
}

func executeRoot(ctx context.Context, root *cobra.Command, stderr io.Writer) (code verdict.ExitCode) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "greenlight: internal error: %v\nThis is a bug in greenlight, not a problem with the deployment; please report it with the stack below.\n%s", v, debug.Stack())
			code = verdict.ExitInternal
		}
	}()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return verdict.ExitPass
	}
	// Commands redact what they know; a URL's password is hidden here whatever quoted it (cobra
	// echoes a mistyped flag's value).
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "greenlight:", redactURL(ee.err.Error()))
		}
		return ee.code
	}
	// cobra's own errors: unknown command, bad flag, wrong argument count.
	fmt.Fprintln(stderr, "greenlight:", redactURL(err.Error()))
	return verdict.ExitInvalid
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "greenlight",
		Short: "Decide whether a blue-green deployment may be promoted",
		Long: `greenlight smoke-tests the preview environment, compares blue and green, and answers
promote, rollback or inconclusive — with the evidence for it.

Exit codes: 0 passed/promote, 1 failed/rollback, 2 inconclusive, 3 invalid input, 4 internal error,
5 interrupted (SIGINT/SIGTERM before a verdict: nothing decided).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return invalid("%s\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(
		newVersionCmd(),
		newValidateCmd(),
		newSmokeCmd(),
		newVerifyCmd(),
		newWatchCmd(),
		newServeCmd(),
		newPlanCmd(),
		newSchemaCmd(),
		newDemoCmd(),
	)
	return root
}

// panicked carries a panic from a worker goroutine to the command's own, where executeRoot
// turns it into exit 4: a panic on any other goroutine would kill the process with Go's exit 2.
type panicked struct {
	once  sync.Once
	value any
	stack []byte
}

// catch is deferred by a worker goroutine.
func (p *panicked) catch() {
	if v := recover(); v != nil {
		p.once.Do(func() { p.value, p.stack = v, debug.Stack() })
	}
}

// rethrow panics on the calling goroutine with the first caught panic, if any.
func (p *panicked) rethrow() {
	if p.value != nil {
		panic(fmt.Sprintf("%v\n(in a worker goroutine)\n%s", p.value, p.stack))
	}
}
