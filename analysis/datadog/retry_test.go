package datadog

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rateLimited(reset string) reply {
	return reply{
		status: http.StatusTooManyRequests,
		header: map[string]string{"X-RateLimit-Limit": "1600", "X-RateLimit-Period": "3600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
		body:   `{"errors":["Rate limit of 1600 requests in 3600 seconds reached. Please try again later."]}`,
	}
}

func serverError(status int) reply {
	return reply{status: status, body: `{"errors":["Internal Server Error"]}`}
}

func TestRateLimitWaitsForReset(t *testing.T) {
	f := newFake(t, script(rateLimited("1"), ok(v1OK)))
	s := newSource(t, f)
	start := time.Now()
	res, err := s.Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
	require.NoError(t, err)
	assert.Equal(t, []float64{12, 8}, res.Values)
	assert.Len(t, f.requests(), 2)
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "waited for X-RateLimit-Reset")
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		replies   []reply
		edit      func(*Config)
		requests  int
		reason    string // empty: success
		retryable bool
	}{
		{name: "5xx then success", replies: []reply{serverError(500), serverError(500), ok(v1OK)}, requests: 3},
		{name: "502 503 504 then success", replies: []reply{serverError(502), serverError(503), serverError(504), ok(v1OK)}, requests: 4},
		{
			name: "5xx until out of retries", replies: []reply{serverError(500)}, requests: 4,
			reason: "HTTP 500: Internal Server Error after 3 retries", retryable: true,
		},
		{
			name: "no retries when disabled", replies: []reply{serverError(503)}, edit: func(c *Config) { c.MaxRetries = -1 }, requests: 1,
			reason: "HTTP 503: Internal Server Error after 0 retries", retryable: true,
		},
		{
			name: "429 without a reset backs off", replies: []reply{{status: 429, body: `{"errors":["Too many requests"]}`}, ok(v1OK)}, requests: 2,
		},
		{
			name: "429 reset beyond max wait", replies: []reply{rateLimited("3000")}, requests: 1,
			reason: "rate limited (HTTP 429: Rate limit of 1600 requests in 3600 seconds reached. Please try again later.): retry in 50m0s exceeds the 30s max wait", retryable: true,
		},
		{
			name: "403", replies: []reply{{status: 403, body: `{"errors":["Forbidden"]}`}}, requests: 1,
			reason: "HTTP 403: Forbidden: check DD_API_KEY/DD_APP_KEY permissions",
		},
		{
			name: "401 v2 style errors", replies: []reply{{status: 401, body: `{"errors":[{"status":"401","title":"Unauthorized","detail":"API key is invalid"}]}`}}, requests: 1,
			reason: "HTTP 401: Unauthorized: API key is invalid: check DD_API_KEY/DD_APP_KEY permissions",
		},
		{
			name: "400 bad query", replies: []reply{{status: 400, body: `{"errors":["Error parsing query: \n unable to parse sum:m{: Rule 'scope_expr' didn't match"]}`}}, requests: 1,
			reason: "HTTP 400: Error parsing query",
		},
		{
			name: "404 without a JSON body", replies: []reply{{status: 404, body: `<html>Not Found</html>`}}, requests: 1,
			reason: `query "sum:m{*}": HTTP 404`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, script(tt.replies...))
			edits := []func(*Config){}
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			res, err := newSource(t, f, edits...).Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
			assert.Len(t, f.requests(), tt.requests)
			if tt.reason == "" {
				require.NoError(t, err)
				assert.Equal(t, []float64{12, 8}, res.Values)
				return
			}
			se := requireSourceError(t, err)
			assert.Contains(t, se.Reason, tt.reason)
			assert.Equal(t, tt.retryable, se.Retryable)
		})
	}
}

func TestCancelDuringRateLimitWait(t *testing.T) {
	f := newFake(t, script(rateLimited("60"), ok(v1OK)))
	s := newSource(t, f, func(c *Config) { c.MaxWait = 2 * time.Minute })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)

	start := time.Now()
	_, err := s.Fetch(ctx, mustMetric(t, "sum:m{*}"), green, window)
	se := requireSourceError(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, `query "sum:m{*}": cancelled while waiting 1m0s to retry after HTTP 429`, se.Reason)
	assert.Len(t, f.requests(), 1)
	// Far below the 60s reset: the wait ended with ctx, not with the timer.
	assert.Less(t, time.Since(start), 30*time.Second)
}

func TestRateLimitPastDeadlineFailsAtOnce(t *testing.T) {
	f := newFake(t, script(rateLimited("20"), ok(v1OK)))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := newSource(t, f).Fetch(ctx, mustMetric(t, "sum:m{*}"), green, window)
	se := requireSourceError(t, err)
	assert.Contains(t, se.Reason, "retry in 20s is past the deadline")
	assert.True(t, se.Retryable)
	assert.NoError(t, ctx.Err(), "gave up without waiting for the deadline")
	assert.Len(t, f.requests(), 1)
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(int, recorded) reply {
		<-release
		return ok(v1OK)
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	s := newSource(t, f, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	_, err := s.Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
	se := requireSourceError(t, err)
	assert.Equal(t, `query "sum:m{*}": timeout after 50ms`, se.Reason)
	assert.True(t, se.Retryable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestUnreachable(t *testing.T) {
	f := newFake(t, script(ok(v1OK)))
	s := newSource(t, f)
	f.srv.Close()
	_, err := s.Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
	se := requireSourceError(t, err)
	assert.Equal(t, `query "sum:m{*}": cannot reach Datadog`, se.Reason)
	assert.True(t, se.Retryable)
	assert.False(t, errors.Is(err, context.Canceled))
}
