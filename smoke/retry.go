package smoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// errStepTimeout marks an attempt that ran past the step's timeout.
var errStepTimeout = errors.New("step timeout")

// withRetries runs fn, each attempt bounded by the step timeout, retrying with exponential
// backoff when the failure is of a kind the step's retries name. It returns the last attempt's
// error; a response with a retryable status is not an error once attempts run out.
func (r *Runner) withRetries(ctx context.Context, step *specs.Step, sr *StepResult, status func() int, fn func(context.Context) error) error {
	attempts, backoff := 1, time.Duration(0)
	if step.Retries != nil {
		attempts, backoff = step.Retries.Attempts, step.Retries.Backoff.D()
	}
	for i := 1; ; i++ {
		sr.Attempts = i
		actx, cancel := context.WithTimeoutCause(ctx, step.Timeout.D(), errStepTimeout)
		err := fn(actx)
		timedOut := errors.Is(context.Cause(actx), errStepTimeout) && ctx.Err() == nil
		cancel()
		if err != nil && timedOut {
			err = fmt.Errorf("timed out after %s (step timeout)", step.Timeout)
		}
		kind := transientKind(err, timedOut, status)
		if kind == "" || i >= attempts || !step.Retries.RetriesOn(kind) || ctx.Err() != nil {
			return err
		}
		wait := backoff << (i - 1)
		if max := step.Retries.MaxBackoff.D(); wait > max || wait <= 0 {
			wait = max
		}
		r.Logger.Debug("retrying step", "step", step.Name, "attempt", i, "reason", kind, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transientKind names the kind of a retryable failure (see specs.Retries.On), or "".
func transientKind(err error, timedOut bool, status func() int) string {
	if err != nil {
		switch {
		case timedOut:
			return "timeout"
		case isConnectionError(err):
			return "connection"
		}
		return ""
	}
	switch s := status(); {
	case s == 429:
		return "429"
	case s >= 500:
		return "5xx"
	}
	return ""
}

func isConnectionError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
