package awshook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
)

// maxAnswer bounds what is read of the daemon's answer; an analysis with its checks is far
// smaller.
const maxAnswer = 4 << 20

// daemon is the client of greenlight serve's API.
type daemon struct {
	base    string
	token   secret.Secret
	client  *http.Client
	timeout time.Duration
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

// analysis is what the hook reads of an analysis or its verdict: verdict is running,
// promote, rollback or inconclusive.
type analysis struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
}

// statusError is an answer of the daemon outside 2xx.
type statusError struct {
	Code int
	Body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("greenlight answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// refused reports whether the daemon refused the request itself — a 4xx other than 408 and
// 429: an unknown spec, a bad token, an unknown analysis — which asking again cannot change.
// Anything else (no answer, a 5xx) may pass.
func refused(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests
}

func (d *daemon) start(ctx context.Context, req startRequest) (analysis, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return analysis{}, err
	}
	return d.do(ctx, http.MethodPost, "/api/v1/analyses", body)
}

func (d *daemon) verdict(ctx context.Context, id string) (analysis, error) {
	return d.do(ctx, http.MethodGet, "/api/v1/analyses/"+url.PathEscape(id)+"/verdict", nil)
}

func (d *daemon) do(ctx context.Context, method, path string, body []byte) (analysis, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(d.base, "/")+path, rd)
	if err != nil {
		return analysis{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "greenlight-aws-hook")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t := d.token.Reveal(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return analysis{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return analysis{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
		if len(msg) > 512 {
			msg = strings.ToValidUTF8(msg[:512], "") + "…"
		}
		return analysis{}, fmt.Errorf("%s %s: %w", method, path, &statusError{Code: resp.StatusCode, Body: msg})
	}
	if len(b) > maxAnswer {
		return analysis{}, fmt.Errorf("%s %s: an answer of more than %d bytes", method, path, maxAnswer)
	}
	var a analysis
	if err := json.Unmarshal(b, &a); err != nil {
		return analysis{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if a.ID == "" || a.Verdict == "" {
		return analysis{}, fmt.Errorf("%s %s: the answer names no analysis or verdict", method, path)
	}
	return a, nil
}
