package smoke

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// transportKey identifies a TLS configuration; steps sharing one share connections.
type transportKey struct {
	ca, cert, key, serverName string
	insecure                  bool
}

func keyOf(t *specs.TLS) transportKey {
	if t == nil {
		return transportKey{}
	}
	ca, cert, key := t.Paths()
	return transportKey{ca, cert, key, t.ServerName, t.Insecure}
}

// transport returns the shared keep-alive transport for a TLS configuration.
func (r *Runner) transport(t *specs.TLS) (*http.Transport, error) {
	k := keyOf(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if tr, ok := r.transports[k]; ok {
		return tr, nil
	}
	tlsConf, err := tlsConfig(t)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
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
		pem, err := specs.ReadFileLimited(ca, specs.MaxPEMFileSize)
		if err != nil {
			return nil, fmt.Errorf("read tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
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
}

type redirectKey struct{}

// checkRedirect applies the step's redirect policy, carried in the request context, so that one
// client serves steps with different policies.
func checkRedirect(req *http.Request, via []*http.Request) error {
	p, _ := req.Context().Value(redirectKey{}).(redirectPolicy)
	if !p.follow {
		return http.ErrUseLastResponse
	}
	if len(via) > p.max {
		return errTooManyRedirects{p.max}
	}
	return nil
}

type errTooManyRedirects struct{ max int }

func (e errTooManyRedirects) Error() string {
	return fmt.Sprintf("stopped after %d redirects (maxRedirects)", e.max)
}

func withRedirectPolicy(ctx context.Context, follow bool, max int) context.Context {
	return context.WithValue(ctx, redirectKey{}, redirectPolicy{follow: follow, max: max})
}

var errBodyTooLarge = errors.New("response body exceeds maxBodySize")
