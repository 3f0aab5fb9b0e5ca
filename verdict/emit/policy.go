package emit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy is the one retry schedule of every integration.
//
// After the n-th failed attempt the next one waits a random time in [0, min(MaxBackoff,
// MinBackoff·2^(n−1))) — exponential backoff with full jitter, so that receivers coming back
// from an outage are not hit by every sender at once — or longer when the receiver asked for
// it with Retry-After. A delivery is dead after MaxAttempts attempts, or when its next attempt
// would start more than MaxAge after it was enqueued (or redelivered by hand); dead deliveries
// are kept, visible and redeliverable.
type Policy struct {
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	MaxAttempts int
	MaxAge      time.Duration
}

// DefaultPolicy: retries within seconds at first, at most an hour apart later, for up to 20
// attempts or a day.
func DefaultPolicy() Policy {
	return Policy{MinBackoff: 5 * time.Second, MaxBackoff: time.Hour, MaxAttempts: 20, MaxAge: 24 * time.Hour}
}

// Validate reports a policy that could not schedule anything.
func (p Policy) Validate() error {
	var errs []error
	if p.MinBackoff <= 0 {
		errs = append(errs, fmt.Errorf("minBackoff must be positive, got %s", p.MinBackoff))
	}
	if p.MaxBackoff < p.MinBackoff {
		errs = append(errs, fmt.Errorf("maxBackoff (%s) must be at least minBackoff (%s)", p.MaxBackoff, p.MinBackoff))
	}
	if p.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("maxAttempts must be at least 1, got %d", p.MaxAttempts))
	}
	if p.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("maxAge must be positive, got %s", p.MaxAge))
	}
	return errors.Join(errs...)
}

// Backoff is the wait after the failed-th failed attempt (failed ≥ 1), for a uniform random
// u in [0, 1).
func (p Policy) Backoff(failed int, u float64) time.Duration {
	ceiling := float64(p.MaxBackoff)
	if failed >= 1 && failed < 64 {
		ceiling = math.Min(ceiling, float64(p.MinBackoff)*math.Exp2(float64(failed-1)))
	}
	return time.Duration(u * ceiling)
}

// Next decides what follows a failed attempt: when to try again, or that the delivery is dead
// (dead is true and next is zero). failed counts the attempts made so far, this one included;
// since is when the delivery was enqueued or last redelivered; retryAfter is the receiver's
// Retry-After header, if any; u is uniform in [0, 1).
func (p Policy) Next(failed int, since, now time.Time, retryAfter string, u float64) (next time.Time, dead bool) {
	if failed >= p.MaxAttempts {
		return time.Time{}, true
	}
	wait := p.Backoff(failed, u)
	if ra, ok := RetryAfter(retryAfter, now); ok && ra > wait {
		wait = ra
	}
	next = now.Add(wait)
	if next.Sub(since) > p.MaxAge {
		return time.Time{}, true
	}
	return next, false
}

// RetryAfter reads a Retry-After header — a number of seconds or an HTTP-date — as a wait
// from now. A date in the past is no wait; a missing or malformed value is not ok.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
