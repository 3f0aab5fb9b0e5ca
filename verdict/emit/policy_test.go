package emit_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict/emit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestBackoffFullJitter(t *testing.T) {
	p := emit.Policy{MinBackoff: 5 * time.Second, MaxBackoff: time.Minute, MaxAttempts: 10, MaxAge: time.Hour}
	tests := []struct {
		failed  int
		ceiling time.Duration
	}{
		{1, 5 * time.Second},
		{2, 10 * time.Second},
		{3, 20 * time.Second},
		{4, 40 * time.Second},
		{5, time.Minute}, // capped
		{40, time.Minute},
		{1000, time.Minute}, // no overflow
	}
	for _, tt := range tests {
		t.Run(tt.ceiling.String(), func(t *testing.T) {
			assert.Equal(t, time.Duration(0), p.Backoff(tt.failed, 0), "full jitter starts at zero")
			assert.Equal(t, tt.ceiling/2, p.Backoff(tt.failed, 0.5))
			assert.Less(t, p.Backoff(tt.failed, 0.999999), tt.ceiling)
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		ok          bool
	}{
		{"seconds", "120", 2 * time.Minute, true},
		{"zero", "0", 0, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"http-date", t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"rfc850 date", t0.Add(time.Hour).Format(time.RFC850), time.Hour, true},
		{"date in the past", t0.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"huge", "99999999999999999", time.Duration(1<<63 - 1), true},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := emit.RetryAfter(tt.value, t0)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPolicyNext(t *testing.T) {
	p := emit.Policy{MinBackoff: 10 * time.Second, MaxBackoff: time.Hour, MaxAttempts: 5, MaxAge: 2 * time.Hour}
	since := t0
	tests := []struct {
		name       string
		failed     int
		now        time.Time
		retryAfter string
		u          float64
		want       time.Time
		dead       bool
	}{
		{"first failure", 1, t0, "", 0.5, t0.Add(5 * time.Second), false},
		{"third failure", 3, t0.Add(time.Minute), "", 0.5, t0.Add(time.Minute + 20*time.Second), false},
		{"retry-after longer than backoff wins", 1, t0, "30", 0.5, t0.Add(30 * time.Second), false},
		{"retry-after shorter than backoff loses", 4, t0, "1", 0.5, t0.Add(40 * time.Second), false},
		{"retry-after as a date", 1, t0, t0.Add(10 * time.Minute).Format(http.TimeFormat), 0, t0.Add(10 * time.Minute), false},
		{"malformed retry-after ignored", 1, t0, "later", 0.5, t0.Add(5 * time.Second), false},
		{"out of attempts", 5, t0.Add(time.Minute), "", 0.5, time.Time{}, true},
		{"next attempt past max age", 2, t0.Add(2*time.Hour - time.Second), "", 0.5, time.Time{}, true},
		{"retry-after past max age", 1, t0, "86400", 0.5, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, dead := p.Next(tt.failed, since, tt.now, tt.retryAfter, tt.u)
			assert.Equal(t, tt.dead, dead)
			assert.Equal(t, tt.want, next)
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	require.NoError(t, emit.DefaultPolicy().Validate())
	err := emit.Policy{MaxBackoff: -1}.Validate()
	require.Error(t, err)
	for _, want := range []string{"minBackoff must be positive", "maxBackoff", "maxAttempts must be at least 1", "maxAge must be positive"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		code  int
		retry bool
		ok    bool
		gone  bool
	}{
		{200, false, true, false},
		{202, false, true, false},
		{204, false, true, false},
		{301, false, false, false},
		{307, false, false, false},
		{400, false, false, false},
		{401, false, false, false},
		{403, false, false, false},
		{404, false, false, false},
		{408, true, false, false},
		{409, false, false, false},
		{410, false, false, true},
		{413, false, false, false},
		{422, false, false, false},
		{429, true, false, false},
		{500, true, false, false},
		{502, true, false, false},
		{503, true, false, false},
		{504, true, false, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.code, Header: http.Header{"Retry-After": {"7"}}, Body: io.NopCloser(strings.NewReader("nope"))}
			retry, err := emit.CheckResponse(resp)
			assert.Equal(t, tt.retry, retry)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			var se *emit.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code)
			assert.Equal(t, "7", se.RetryAfter)
			assert.Equal(t, "nope", se.Body)
			assert.Equal(t, tt.gone, errors.Is(err, emit.ErrGone))
		})
	}
}

func TestCheckResponseBoundsTheBody(t *testing.T) {
	body := strings.Repeat("é", 10_000) // two bytes each: the cut must not split one
	resp := &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader(body))}
	_, err := emit.CheckResponse(resp)
	var se *emit.StatusError
	require.ErrorAs(t, err, &se)
	assert.LessOrEqual(t, len(se.Body), 512+len("…"))
	assert.True(t, strings.HasSuffix(se.Body, "é…"), "cut on a character boundary: %q", se.Body[len(se.Body)-8:])
}
