package emit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrGone is wrapped by the error of an attempt the receiver answered 410 Gone: the endpoint
// no longer exists, so the Dispatcher disables it rather than retrying.
var ErrGone = errors.New("endpoint gone (410): disabled")

// StatusError is a receiver's answer outside 2xx.
type StatusError struct {
	Code int
	// RetryAfter is the Retry-After header as sent (seconds or an HTTP-date); the Dispatcher
	// reads it with its own clock.
	RetryAfter string
	// Body is the start of the answer's body, for the delivery's last error.
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
	if e.RetryAfter != "" {
		msg += ", Retry-After " + e.RetryAfter
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes a 410 answer match ErrGone.
func (e *StatusError) Is(target error) bool { return target == ErrGone && e.Code == http.StatusGone }

// maxErrorBody is how much of a failed answer's body is kept in the delivery's last error.
const maxErrorBody = 512

// CheckResponse classifies a receiver's answer. 2xx is success. 5xx, 429 and 408 may succeed
// later; any other answer never will: another 4xx means the request itself is wrong, and a 3xx
// is not followed (a moved endpoint is a configuration to fix, then a redelivery by hand). It
// reads at most a little of the body and does not close it.
func CheckResponse(resp *http.Response) (retry bool, err error) {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	body := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
		for !utf8.ValidString(body) {
			body = body[:len(body)-1]
		}
		body += "…"
	}
	se := &StatusError{Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: body}
	switch c := resp.StatusCode; {
	case c >= 500, c == http.StatusTooManyRequests, c == http.StatusRequestTimeout:
		return true, se
	}
	return false, se
}

// TransportError is the error of an attempt that got no answer — a timeout, a refused or
// reset connection, a failed name lookup — without the URL that *url.Error quotes (an
// endpoint's URL may carry a credential). Such an attempt is always worth retrying.
func TransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Discard drains (up to 64 KiB) and closes an answer's body: call it once CheckResponse has
// read what it needs, so that the connection can be reused.
func Discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
