package smoke_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
)

// TestRunnerDialContext runs a suite over an in-memory network under a fake clock: the step's
// latency is the handler's 25ms exactly, and a host nobody serves is refused as on a socket.
func TestRunnerDialContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		url := n.Serve(t, "green.test:80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(25 * time.Millisecond)
			w.WriteHeader(http.StatusOK)
		}))
		r := smoke.NewRunner(testUserAgent, nil)
		r.DialContext = n.DialContext
		suite := parseSuite(t, `
steps:
  - {name: health, http: {url: /health}, expect: [status == 200, duration == 25ms]}
`)
		res := r.Run(t.Context(), suite, "green", map[string]smoke.Target{"green": {URL: url}})
		require.True(t, res.Passed(), dump(res))
		assert.Equal(t, 25*time.Millisecond, res.Steps[0].Latency)

		res = r.Run(t.Context(), suite, "blue", map[string]smoke.Target{"blue": {URL: "http://blue.test:80"}})
		require.Equal(t, smoke.Errored, res.Steps[0].Status)
		assert.Contains(t, res.Steps[0].Err, "connection refused")
		r.CloseIdle()
	})
}
