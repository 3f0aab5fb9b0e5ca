package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"

	"github.com/greenlight/greenlight/analysis/source"
)

// fetchError is a failure before Fetch ties it to an environment. Its reason is already free of
// secrets, and so is err's message.
type fetchError struct {
	reason    string
	retryable bool
	err       error
	noSeries  bool // the query returned no series
}

// call runs one API request, each attempt bounded by the source's timeout. It retries a 429
// once the rate limit resets (if that is within MaxWait and ctx's deadline) and a 5xx after an
// exponential backoff, at most MaxRetries times in all. Other failures return at once.
func (s *Source) call(ctx context.Context, env source.Env, do func(context.Context) (*http.Response, error)) *fetchError {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := do(actx)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx, "")
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		switch {
		case status == 0 && timedOut:
			return &fetchError{reason: fmt.Sprintf("timeout after %s", s.timeout), retryable: true, err: context.DeadlineExceeded}
		case status == 0:
			return &fetchError{reason: "cannot reach Datadog", retryable: true, err: s.clean(err)}
		case status < 300:
			return &fetchError{reason: "cannot decode Datadog's response", err: s.clean(err)}
		}

		msg := s.apiMessage(err)
		var wait time.Duration
		switch {
		case status == http.StatusTooManyRequests:
			reset, ok := rateLimitReset(resp.Header)
			wait = reset
			if !ok {
				wait = s.backoffFor(attempt)
			}
			if fe := s.giveUp(ctx, attempt, wait, "rate limited (HTTP 429"+msg+")"); fe != nil {
				return fe
			}
		case status >= 500:
			wait = s.backoffFor(attempt)
			if fe := s.giveUp(ctx, attempt, wait, fmt.Sprintf("HTTP %d%s", status, msg)); fe != nil {
				return fe
			}
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return &fetchError{reason: fmt.Sprintf("HTTP %d%s: check DD_API_KEY/DD_APP_KEY permissions", status, msg)}
		case status < 400:
			return &fetchError{reason: fmt.Sprintf("HTTP %d: redirects are not followed; check the site or base URL", status)}
		default:
			return &fetchError{reason: fmt.Sprintf("HTTP %d%s", status, msg)}
		}

		s.log.Warn("datadog request failed; retrying", "env", env.Name, "status", status, "wait", wait, "retry", attempt+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxError(ctx, fmt.Sprintf(" while waiting %s to retry after HTTP %d", wait, status))
		case <-t.C:
		}
	}
}

// giveUp says whether to stop retrying now: out of retries, or a wait that exceeds MaxWait or
// ctx's deadline (waiting only to be cancelled would just delay the report).
func (s *Source) giveUp(ctx context.Context, attempt int, wait time.Duration, what string) *fetchError {
	switch {
	case attempt >= s.maxRetries:
		return &fetchError{reason: fmt.Sprintf("%s after %d retries", what, attempt), retryable: true}
	case wait > s.maxWait:
		return &fetchError{reason: fmt.Sprintf("%s: retry in %s exceeds the %s max wait", what, wait, s.maxWait), retryable: true}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return &fetchError{reason: fmt.Sprintf("%s: retry in %s is past the deadline", what, wait), retryable: true}
	}
	return nil
}

// backoffFor doubles Backoff per earlier attempt, stopping once past MaxWait.
func (s *Source) backoffFor(attempt int) time.Duration {
	d := s.backoff
	for i := 0; i < attempt && d <= s.maxWait; i++ {
		d *= 2
	}
	return d
}

func ctxError(ctx context.Context, during string) *fetchError {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &fetchError{reason: "deadline exceeded" + during, retryable: true, err: err}
	}
	return &fetchError{reason: "cancelled" + during, err: err}
}

// rateLimitReset reads X-RateLimit-Reset: the seconds until the limit's period restarts.
func rateLimitReset(h http.Header) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil || n < 0 || n > int64(24*time.Hour/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// apiMessage is ": " and the API's own error text, redacted and cut short, or "".
func (s *Source) apiMessage(err error) string {
	var oe datadog.GenericOpenAPIError
	if !errors.As(err, &oe) {
		return ""
	}
	msg := errorsInBody(oe.Body())
	if msg == "" {
		return ""
	}
	return ": " + truncate(s.redact.Redact(msg), 300)
}

// errorsInBody reads {"errors": [...]}: strings in v1, strings or JSON:API error objects in v2.
func errorsInBody(body []byte) string {
	var b struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	var msgs []string
	for _, raw := range b.Errors {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			msgs = append(msgs, str)
			continue
		}
		var obj struct{ Title, Detail string }
		if json.Unmarshal(raw, &obj) == nil {
			msgs = append(msgs, strings.TrimPrefix(strings.TrimSpace(obj.Title+": "+obj.Detail), ": "))
		}
	}
	return strings.TrimSuffix(strings.Join(msgs, "; "), ":")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// clean returns err with its message redacted. The client's own error type carries the response
// body, which may echo what was sent: it is replaced by its message alone.
func (s *Source) clean(err error) error {
	var oe datadog.GenericOpenAPIError
	if errors.As(err, &oe) {
		return errors.New(s.redact.Redact(oe.Error()))
	}
	return &redactedError{msg: s.redact.Redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
