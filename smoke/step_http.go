package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sort"
	"strings"

	"github.com/greenlight/greenlight/specs"
)

// doHTTP executes one attempt of an http step.
func (r *Runner) doHTTP(ctx context.Context, a *attempt) error {
	h := a.step.HTTP()
	ph := &phases{now: r.clock()}
	req, err := r.buildRequest(httptrace.WithClientTrace(ctx, ph.trace()), h, a)
	if err != nil {
		return err
	}
	a.request = req.Method + " " + req.URL.String()
	tr, err := r.transport(a.target.Name, h.TLS)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr, CheckRedirect: checkRedirect}

	start := ph.now()
	resp, err := client.Do(req)
	if err != nil {
		a.connect, a.tls = ph.setup()
		return cleanTransportError(err)
	}
	defer resp.Body.Close()
	limit := int64(h.MaxBodySize)
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	elapsed := ph.latency(start, ph.now())
	a.connect, a.tls = ph.setup()
	if err != nil {
		return fmt.Errorf("read response body: %w", cleanTransportError(err))
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("%w (%d bytes)", errBodyTooLarge, limit)
	}
	a.response = &specs.Response{
		Status:   resp.StatusCode,
		Headers:  resp.Header,
		Body:     body,
		Duration: elapsed,
	}
	return nil
}

func (r *Runner) buildRequest(ctx context.Context, h *specs.HTTPStep, a *attempt) (*http.Request, error) {
	raw, err := h.URL.Render(a.data)
	if err != nil {
		return nil, err
	}
	u, err := resolveURL(a.target.URL, raw)
	if err != nil {
		return nil, err
	}
	if len(h.Query) > 0 {
		q := u.Query()
		for _, k := range sortedKeys(h.Query) {
			v, err := h.Query[k].Render(a.data)
			if err != nil {
				return nil, err
			}
			q.Add(k, v)
		}
		u.RawQuery = q.Encode()
	}

	var body io.Reader
	contentType := ""
	switch {
	case h.Body != nil:
		s, err := h.Body.Render(a.data)
		if err != nil {
			return nil, err
		}
		body = strings.NewReader(s)
	case h.JSON != nil:
		v, err := h.JSON.Render(a.data)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode json body: %w", err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case h.Form != nil:
		f := url.Values{}
		for _, k := range sortedKeys(h.Form) {
			v, err := h.Form[k].Render(a.data)
			if err != nil {
				return nil, err
			}
			f.Add(k, v)
		}
		body, contentType = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	}

	ctx = withRedirectPolicy(ctx, *h.FollowRedirects, *h.MaxRedirects, a.redact)
	req, err := http.NewRequestWithContext(ctx, h.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if r.UserAgent != "" {
		req.Header.Set("User-Agent", r.UserAgent)
	}
	for k, v := range a.target.Headers {
		req.Header.Set(k, v)
	}
	for k, t := range h.Headers {
		v, err := t.Render(a.data)
		if err != nil {
			return nil, err
		}
		req.Header.Set(k, v)
	}
	// net/http takes the Host from req.Host and ignores a Host header: honour one, as blue and
	// green behind one ingress are often told apart by it.
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
		req.Header.Del("Host")
	}
	// Labels go last so that no suite can send unlabelled synthetic traffic by accident.
	req.Header.Set(a.header.Header, a.header.Value)
	req.Header.Set("Traceparent", traceparent(a.traceID))
	if ua := req.Header.Get("User-Agent"); ua == "" {
		req.Header.Set("User-Agent", "greenlight")
	}
	return req, nil
}

// resolveURL joins a step's URL to the environment's base URL. A relative path keeps the base
// URL's own path: base http://h/prefix + /health → http://h/prefix/health.
func resolveURL(base, ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid url %q: %w", ref, err)
	}
	if u.IsAbs() {
		return u, nil
	}
	if base == "" {
		return nil, fmt.Errorf("url %q is relative and the environment has no base URL", ref)
	}
	b, err := url.Parse(base)
	if err != nil || !b.IsAbs() {
		return nil, fmt.Errorf("invalid environment URL %q", base)
	}
	out := *b
	out.Path = strings.TrimRight(b.Path, "/") + "/" + strings.TrimLeft(u.Path, "/")
	// Keep escapes such as %2F as written: /items/a%2Fb must not become /items/a/b.
	out.RawPath = strings.TrimRight(b.EscapedPath(), "/") + "/" + strings.TrimLeft(u.EscapedPath(), "/")
	out.RawQuery = u.RawQuery
	if b.RawQuery != "" && u.RawQuery != "" {
		out.RawQuery = b.RawQuery + "&" + u.RawQuery
	} else if b.RawQuery != "" {
		out.RawQuery = b.RawQuery
	}
	out.Fragment = ""
	return &out, nil
}

// cleanTransportError drops net/http's "Get \"url\": " prefix: reports already show the request.
func cleanTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var tm errTooManyRedirects
		if errors.As(ue.Err, &tm) {
			return tm
		}
		return ue.Err
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
