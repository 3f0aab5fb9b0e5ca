package smoke

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransportPerEnvironment: each environment gets its own connection pool, even when two
// environments are one host, so that blue's and green's probes never wait for each other's
// connections; within an environment, one pool per TLS configuration, kept across runs.
func TestTransportPerEnvironment(t *testing.T) {
	t.Run("distinct transports", func(t *testing.T) {
		r := NewRunner("", nil)
		blue, err := r.transport("blue", nil)
		require.NoError(t, err)
		green, err := r.transport("green", nil)
		require.NoError(t, err)
		assert.NotSame(t, blue, green, "two environments, two pools")
		again, err := r.transport("blue", nil)
		require.NoError(t, err)
		assert.Same(t, blue, again, "one environment keeps its pool")
		insecure, err := r.transport("blue", &specs.TLS{Insecure: true})
		require.NoError(t, err)
		assert.NotSame(t, blue, insecure, "another TLS configuration, another pool")
	})

	t.Run("two targets on one host open two connections", func(t *testing.T) {
		var conns atomic.Int64
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"ok":true}`))
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		docs, err := specs.Parse("t.yaml", []byte("apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: t}\n"+
			"steps:\n  - name: s\n    http: {url: /}\n    expect: [status == 200]\n"),
			specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		targets := map[string]Target{"blue": {URL: srv.URL}, "green": {URL: srv.URL}}
		r := NewRunner("", nil)
		for _, env := range []string{"blue", "green", "blue", "green"} {
			res := r.Run(t.Context(), docs.Suites[0], env, targets)
			require.True(t, res.Passed(), "%s: %+v", env, res.Steps)
		}
		assert.EqualValues(t, 2, conns.Load(), "one kept-alive connection per environment, never shared")
		assert.Len(t, r.transports, 2)
	})
}
