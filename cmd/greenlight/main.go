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

// run executes the CLI and returns its exit code; tests call it directly.
func run(args []string, stdout, stderr io.Writer) verdict.ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
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

Exit codes: 0 passed/promote, 1 failed/rollback, 2 inconclusive, 3 invalid input, 4 internal error.`,
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
		newSchemaCmd(),
		newDemoCmd(),
	)
	return root
}
