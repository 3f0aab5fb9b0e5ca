package smoke

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnreachable: failures to reach the application are named as such; failures after a
// response or of the spec are not.
func TestUnreachable(t *testing.T) {
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	cases := []struct {
		url, want string
	}{
		{closed, "connection refused"},
		{"http://nothing.invalid", "DNS: no such host nothing.invalid"},
		{tlsSrv.URL, "TLS: certificate not trusted"},
		{"https://" + plain.Listener.Addr().String(), "TLS: the server answered in plain HTTP"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, tc.url, nil)
			require.NoError(t, err)
			_, err = http.DefaultClient.Do(req)
			require.Error(t, err)
			assert.Equal(t, tc.want, unreachable(err))
		})
	}
	assert.Empty(t, unreachable(errBodyTooLarge))
	assert.Empty(t, unreachable(context.DeadlineExceeded))
}
