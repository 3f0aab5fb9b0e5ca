package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxAnswerBytes bounds what is read of an answer: a verdict with every check is far smaller.
const maxAnswerBytes = 4 << 20

// client speaks to one daemon's API.
type client struct {
	base  string // the address without a trailing slash
	token string // never formatted into a message
	http  *http.Client
}

// startRequest is the body of POST /api/v1/analyses.
type startRequest struct {
	Spec         string            `json:"spec"`
	Key          string            `json:"key"`
	Environments map[string]string `json:"environments,omitempty"`
	Baseline     string            `json:"baseline,omitempty"`
	Candidate    string            `json:"candidate,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Mode         string            `json:"mode,omitempty"`
	Watch        string            `json:"watch,omitempty"`
}

// answer is what the daemon says of an analysis: the start's answer and the verdict's share
// these fields.
type answer struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

// apiError is the daemon's error body.
type apiError struct {
	Error  string `json:"error"`
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

// statusError is an answer outside 2xx.
type statusError struct {
	status  int
	message string
}

func (e *statusError) Error() string { return e.message }

func (c *client) start(ctx context.Context, req startRequest) (answer, error) {
	var a answer
	err := c.do(ctx, http.MethodPost, "/api/v1/analyses", req, &a)
	return a, err
}

func (c *client) verdict(ctx context.Context, id string) (answer, error) {
	var a answer
	err := c.do(ctx, http.MethodGet, "/api/v1/analyses/"+url.PathEscape(id)+"/verdict", nil, &a)
	return a, err
}

func (c *client) abort(ctx context.Context, id, reason string) (answer, error) {
	var a answer
	err := c.do(ctx, http.MethodPost, "/api/v1/analyses/"+url.PathEscape(id)+"/abort", map[string]string{"reason": reason, "by": "argo-rollouts"}, &a)
	return a, err
}

// do makes a request and decodes a 2xx JSON answer into out. Anything else is an error that
// says what the daemon answered — never a success.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("greenlight at %s: %w", c.base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if len(data) > maxAnswerBytes {
		return fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxAnswerBytes)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{status: resp.StatusCode, message: c.describe(method, path, resp.StatusCode, mt, data)}
	}
	if mt != "application/json" {
		return fmt.Errorf("%s %s: answered %d with %s, not JSON: is %s greenlight serve?", method, path, resp.StatusCode, orNone(mt), c.base)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// describe says what an answer outside 2xx means, with the daemon's own words when it gave some.
func (c *client) describe(method, path string, status int, mediaType string, data []byte) string {
	msg := fmt.Sprintf("%s %s: greenlight answered %d", method, path, status)
	var e apiError
	if mediaType == "application/json" && json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg += ": " + e.Error
		for _, f := range e.Fields {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
	} else if len(data) > 0 {
		msg += ": " + excerpt(string(data), 200)
	}
	if status == http.StatusUnauthorized && c.token == "" {
		msg += " (no token was sent: set the controller's environment variable named by tokenEnv)"
	}
	return c.redact(msg)
}

// redact removes the token from what a server may have echoed.
func (c *client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "<secret>")
}

func orNone(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return s
}

// excerpt is s cut to at most n bytes on a rune boundary.
func excerpt(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// transports holds one transport per CA file ("" is the system's), so that connections are
// reused from one call to the next.
type transports struct {
	mu sync.Mutex
	by map[string]*http.Transport
}

func (t *transports) get(caFile string) (*http.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.by[caFile]; ok {
		return tr, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if t.by == nil {
		t.by = map[string]*http.Transport{}
	}
	t.by[caFile] = tr
	return tr, nil
}
