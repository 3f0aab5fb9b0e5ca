package server

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
)

// exampleCanary is what the test reads of deploy/flagger/canary.yaml: Flagger's Canary fields
// that its webhooks use.
type exampleCanary struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		Analysis struct {
			Webhooks []struct {
				Name, Type, URL string
				Metadata        map[string]string
			}
		}
	}
}

// podinfo answers like the example's application: /, /healthz, /readyz and POST /api/echo, each
// after a random few milliseconds (of the test's fake clock).
func podinfo(seed uint64) http.Handler {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed))
	mux := http.NewServeMux()
	wait := func() {
		mu.Lock()
		d := 2*time.Millisecond + time.Duration(rng.Float64()*float64(4*time.Millisecond))
		mu.Unlock()
		time.Sleep(d)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { wait(); _, _ = w.Write([]byte(`{"hostname":"podinfo"}`)) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { wait() })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { wait() })
	mux.HandleFunc("POST /api/echo", func(w http.ResponseWriter, _ *http.Request) { wait(); w.WriteHeader(http.StatusAccepted) })
	return mux
}

// TestFlaggerExample runs the example of deploy/flagger as Flagger would: the greenlight spec
// loaded by the daemon, each webhook of the Canary called with Flagger's payload (the
// environments' URLs pointed at two podinfo stand-ins, the token a real one). Before the
// verdict every webhook fails its check; after a promote, pre-rollout and confirm-promotion
// pass and the rollback webhook does not.
func TestFlaggerExample(t *testing.T) {
	raw, err := os.ReadFile("../deploy/flagger/canary.yaml")
	require.NoError(t, err)
	var c exampleCanary
	require.NoError(t, yaml.Unmarshal(raw, &c))
	docs, err := specs.Load([]string{"../deploy/flagger/greenlight.yaml"}, specs.LoadOptions{})
	require.NoError(t, err)
	hooks := map[string]canaryWebhookPayload{}
	urls := map[string]string{}
	for _, h := range c.Spec.Analysis.Webhooks {
		u, err := url.Parse(h.URL)
		require.NoError(t, err)
		spec, ok := strings.CutPrefix(u.Path, "/api/v1/flagger/")
		require.True(t, ok, "%s calls the Flagger endpoint", h.Name)
		require.NotNil(t, docs.Analysis(spec), "%s names a spec of greenlight.yaml", h.Name)
		for k := range h.Metadata {
			assert.True(t, k == flaggerToken || k == flaggerBaseline || k == flaggerCandidate || strings.HasPrefix(k, flaggerEnvPrefix), "%s: metadata %s", h.Name, k)
		}
		hooks[h.Type] = canaryWebhookPayload{Name: c.Metadata.Name, Namespace: c.Metadata.Namespace, Phase: "Progressing", Checksum: "85d557f47b", Metadata: h.Metadata}
		urls[h.Type] = u.RequestURI()
	}
	require.ElementsMatch(t, []string{"pre-rollout", "rollback", "confirm-promotion"}, keys(hooks))

	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		blue := n.Serve(t, "podinfo-primary.test:80", podinfo(1))
		green := n.Serve(t, "podinfo-canary.test:80", podinfo(2))
		d := startDaemon(t, daemonConfig{net: n, tokens: testTokens(t), opts: func(o *Options) { o.Specs = docs }})
		call := func(hook string) (int, error) {
			p := hooks[hook]
			meta := map[string]string{}
			for k, v := range p.Metadata {
				meta[k] = v
			}
			meta["env.blue"], meta["env.green"], meta[flaggerToken] = blue, green, writeToken
			p.Metadata = meta
			return callFlaggerWebhook(d.client, d.url+urls[hook], p)
		}

		status, err := call("pre-rollout")
		require.Equal(t, http.StatusConflict, status, "%v", err)
		id := flaggerAnswer(t, err).Analysis
		status, _ = call("rollback")
		assert.Equal(t, http.StatusConflict, status, "no rollback while it runs")
		status, _ = call("confirm-promotion")
		assert.Equal(t, http.StatusConflict, status, "no promotion while it runs")

		v := d.waitVerdict(readToken, id)
		require.Equal(t, "promote", v.Verdict, v.Reason)
		for _, hook := range []string{"pre-rollout", "confirm-promotion"} {
			status, err := call(hook)
			assert.NoError(t, err, hook)
			assert.Equal(t, http.StatusOK, status, hook)
		}
		status, _ = call("rollback")
		assert.Equal(t, http.StatusConflict, status, "a promote is no rollback")

		// A person overrides the verdict to rollback before the switch: the promotion gate
		// closes and the rollback webhook fires.
		d.callJSON("POST", "/api/v1/analyses/"+id+"/override", adminToken, overrideRequest{Decision: "rollback", Why: "a customer report"}, http.StatusOK, nil)
		status, _ = call("confirm-promotion")
		assert.Equal(t, http.StatusPreconditionFailed, status)
		status, err = call("rollback")
		assert.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		d.stop()
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
