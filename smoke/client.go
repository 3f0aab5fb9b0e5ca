package smoke

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// transportKey identifies a connection pool: one per environment and TLS configuration. Steps
// sharing one share connections. Environments never share a pool, even when they are one host
// behind one ingress: blue's and green's probes then never wait for each other's connections,
// and the idle-connection limits apply to each alone.
type transportKey struct {
	env                       string
	ca, cert, key, serverName string
	insecure                  bool
}

func keyOf(env string, t *specs.TLS) transportKey {
	if t == nil {
		return transportKey{env: env}
	}
	ca, cert, key := t.Paths()
	return transportKey{env, ca, cert, key, t.ServerName, t.Insecure}
}

// transport returns the keep-alive transport of an environment and a TLS configuration.
func (r *Runner) transport(env string, t *specs.TLS) (*http.Transport, error) {
	k := keyOf(env, t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if tr, ok := r.transports[k]; ok {
		return tr, nil
	}
	tlsConf, err := tlsConfig(t)
	if err != nil {
		return nil, err
	}
	dial := r.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       dial,
		ForceAttemptHTTP2: true,
		// Enough idle connections for many monitors probing one host at once: a smaller pool
		// closes and redials connections under load, and dialing then dominates the cost.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
	}
	r.transports[k] = tr
	return tr, nil
}

func tlsConfig(t *specs.TLS) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return c, nil
	}
	c.ServerName = t.ServerName
	c.InsecureSkipVerify = t.Insecure //nolint:gosec // explicit opt-in in the spec, never a default
	ca, cert, key := t.Paths()
	if ca != "" {
		pool, err := specs.CertPool(ca)
		if err != nil {
			return nil, fmt.Errorf("tls.caFile: %w", err)
		}
		c.RootCAs = pool
	}
	if cert != "" {
		pair, err := specs.KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("load tls client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// CloseIdle closes idle connections of every transport.
func (r *Runner) CloseIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tr := range r.transports {
		tr.CloseIdleConnections()
	}
}

type redirectPolicy struct {
	follow bool
	max    int
	redact *specs.Redactor
}

type redirectKey struct{}

// checkRedirect applies the step's redirect policy, carried in the request context, so that one
// client serves steps with different policies.
//
// Credentials never follow a redirect to another origin (another host or port) or from https
// to http. net/http drops Authorization, Cookie and Proxy-Authorization only when the host name
// is neither the original's nor a subdomain of it — it keeps them for another port of the same
// host, for a subdomain, and on a downgrade to http — and it always copies every other header,
// such as an X-Api-Key or a header built from a secret. So once a redirect leaves the origin,
// this drops every credential header, every header whose value holds one of the run's
// secrets (a Referer quoting a secret query parameter, say), and the URL's userinfo.
func checkRedirect(req *http.Request, via []*http.Request) error {
	p, _ := req.Context().Value(redirectKey{}).(redirectPolicy)
	if !p.follow {
		return http.ErrUseLastResponse
	}
	if len(via) > p.max {
		return errTooManyRedirects{p.max}
	}
	if leftOrigin(via, req) {
		stripCredentials(req, p.redact)
	}
	return nil
}

// leftOrigin reports whether the redirect chain has left the first request's origin at any
// hop: once credentials are dropped they stay dropped, even on the way back.
func leftOrigin(via []*http.Request, req *http.Request) bool {
	first := via[0].URL
	for _, r := range append(via[1:len(via):len(via)], req) {
		if !sameOrigin(first, r.URL) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether to is the host and port of from, without a downgrade from https
// to http. An upgrade from http to https on the default ports stays on the origin.
func sameOrigin(from, to *url.URL) bool {
	if strings.EqualFold(from.Scheme, "https") && !strings.EqualFold(to.Scheme, "https") {
		return false
	}
	if !strings.EqualFold(from.Hostname(), to.Hostname()) {
		return false
	}
	return effectivePort(from) == effectivePort(to) || from.Port() == "" && to.Port() == ""
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// stripCredentials removes what identifies the caller from a request leaving the origin.
func stripCredentials(req *http.Request, redact *specs.Redactor) {
	req.URL.User = nil
	for k, vv := range req.Header {
		if specs.IsSecretHeader(k) {
			req.Header.Del(k)
			continue
		}
		for _, v := range vv {
			if redact.Redact(v) != v {
				req.Header.Del(k)
				break
			}
		}
	}
}

type errTooManyRedirects struct{ max int }

func (e errTooManyRedirects) Error() string {
	return fmt.Sprintf("stopped after %d redirects (maxRedirects)", e.max)
}

func withRedirectPolicy(ctx context.Context, follow bool, max int, redact *specs.Redactor) context.Context {
	return context.WithValue(ctx, redirectKey{}, redirectPolicy{follow: follow, max: max, redact: redact})
}

var errBodyTooLarge = errors.New("response body exceeds maxBodySize")
