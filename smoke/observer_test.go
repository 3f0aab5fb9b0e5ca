package smoke_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
)

// TestStepObserversAreSeparate: two callers of one Runner, each with its own observer, see
// only their own steps (a daemon runs many analyses on one Runner).
func TestStepObserversAreSeparate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	docs, err := specs.Parse("s.yaml", []byte(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
steps:
  - {name: a, http: {url: /a}}
  - {name: b, http: {url: /b}}
`), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	runner := smoke.NewRunner("t", nil)
	targets := map[string]smoke.Target{"blue": {URL: srv.URL}, "green": {URL: srv.URL}}
	seen := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, env := range []string{"blue", "green"} {
		for range 20 {
			wg.Go(func() {
				ctx := smoke.WithStepObserver(context.Background(), func(_ *specs.Suite, got string, r smoke.StepResult) {
					mu.Lock()
					defer mu.Unlock()
					seen[env] = append(seen[env], got+"/"+r.Name)
				})
				runner.Run(ctx, docs.Suites[0], env, targets)
			})
		}
	}
	wg.Wait()
	for _, env := range []string{"blue", "green"} {
		require.Len(t, seen[env], 40)
		for _, s := range seen[env] {
			assert.Contains(t, []string{env + "/a", env + "/b"}, s)
		}
	}
}
