package prometheus

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingRT struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestHTTPClientInjected: with a client given (the Engine's), queries go through its
// transport; a CA file is set on a clone of it, never on the shared transport itself; a
// transport it cannot set one on is refused at New.
func TestHTTPClientInjected(t *testing.T) {
	f := &fake{answers: map[string]string{`x`: vector(sample(``, "1"))}}
	q := countsOfX(t)

	plain := httptest.NewServer(f)
	t.Cleanup(plain.Close)
	rt := &countingRT{next: http.DefaultTransport}
	s, err := New(Config{URL: plain.URL, HTTPClient: &http.Client{Transport: rt}})
	require.NoError(t, err)
	_, err = s.Fetch(context.Background(), q, green, window)
	require.NoError(t, err)
	assert.Positive(t, rt.n.Load(), "the query went through the given client")

	tlsSrv := httptest.NewTLSServer(f)
	t.Cleanup(tlsSrv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600))
	shared := &http.Transport{}
	s, err = New(Config{URL: tlsSrv.URL, CAFile: ca, HTTPClient: &http.Client{Transport: shared}})
	require.NoError(t, err)
	_, err = s.Fetch(context.Background(), q, green, window)
	require.NoError(t, err, "the CA was trusted")
	if shared.TLSClientConfig != nil { // Clone sets up HTTP/2 on the original; nothing else
		assert.Nil(t, shared.TLSClientConfig.RootCAs, "the shared transport trusts no more than it did")
	}

	_, err = New(Config{URL: tlsSrv.URL, CAFile: ca, HTTPClient: &http.Client{Transport: rt}})
	assert.ErrorContains(t, err, "caFile and insecure need an *http.Transport")
}

// countsOfX is a counts query whose two templates the fake answers.
func countsOfX(t *testing.T) CountsQuery {
	return CountsQuery{Errors: tmpl(t, `x{a="1"}`), Total: tmpl(t, `x{a="2"}`)}
}
