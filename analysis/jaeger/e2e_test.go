package jaeger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/examples/app"
)

// TestRealJaeger sends traffic through two example apps that export their spans to a real
// Jaeger v2, then reads them back through the api_v3 gateway.
func TestRealJaeger(t *testing.T) {
	j := StartJaeger(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	start := time.Now().Add(-time.Second)
	blue, err := app.Start(ctx, app.Config{Color: "blue", Version: "v1", OTLPEndpoint: j.OTLPURL})
	require.NoError(t, err)
	green, err := app.Start(ctx, app.Config{Color: "green", Version: "v2", OTLPEndpoint: j.OTLPURL, Seed: 7,
		Faults: app.Faults{
			Latency:   map[string]app.Duration{"/health": app.Duration(30 * time.Millisecond)},
			ErrorRate: map[string]float64{"/health": 0.1},
		}})
	require.NoError(t, err)

	const requests = 200
	blueFailed := hit(t, blue.URL+"/health", requests)
	greenFailed := hit(t, green.URL+"/health", requests)
	require.NoError(t, blue.Close())
	require.NoError(t, green.Close()) // flushes the spans
	require.Zero(t, blueFailed)
	require.NotZero(t, greenFailed, "the error fault should have failed some requests")

	src, err := New(Config{URL: j.QueryURL, Service: "checkout", Values: map[string]string{"v1": "blue", "v2": "green"}})
	require.NoError(t, err)
	w := source.Window{Start: start, End: time.Now().Add(time.Second)}
	blueEnv, greenEnv := source.Env{Name: "blue"}, source.Env{Name: "green"}
	op := "GET /health"

	// Jaeger stores spans after its batch processor flushes: wait until every one is there.
	counts := func(env source.Env) source.Counts {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			res, err := src.Fetch(t.Context(), OperationErrors{Operation: op}, env, w)
			if err == nil && res.Counts.Total >= requests {
				return *res.Counts
			}
			if time.Now().After(deadline) {
				t.Fatalf("jaeger did not return %d spans for %s in 20s: %v %+v", requests, env.Name, err, res.Counts)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	assert.Equal(t, source.Counts{Errors: 0, Total: requests}, counts(blueEnv))
	assert.Equal(t, source.Counts{Errors: float64(greenFailed), Total: requests}, counts(greenEnv))

	median := func(env source.Env) float64 {
		t.Helper()
		res, err := src.Fetch(t.Context(), OperationLatency{Operation: op}, env, w)
		require.NoError(t, err)
		require.Len(t, res.Latencies, requests)
		lat := slices.Clone(res.Latencies)
		slices.Sort(lat)
		return lat[len(lat)/2]
	}
	blueMedian, greenMedian := median(blueEnv), median(greenEnv)
	t.Logf("median GET /health: blue %.1fms, green %.1fms", blueMedian*1e3, greenMedian*1e3)
	assert.Less(t, blueMedian, 0.010)
	assert.GreaterOrEqual(t, greenMedian, 0.025)

	t.Run("unknown operation", func(t *testing.T) {
		_, err := src.Fetch(t.Context(), OperationLatency{Operation: "GET /nope"}, greenEnv, w)
		assertNoData(t, err)
	})
	t.Run("window before the traffic", func(t *testing.T) {
		// Jaeger answers 404 "No traces found".
		_, err := src.Fetch(t.Context(), OperationErrors{Operation: op}, blueEnv,
			source.Window{Start: start.Add(-time.Hour), End: start.Add(-time.Minute)})
		assertNoData(t, err)
	})
	t.Run("unknown service", func(t *testing.T) {
		other, err := New(Config{URL: j.QueryURL, Service: "payments", Values: map[string]string{"v1": "blue"}})
		require.NoError(t, err)
		_, err = other.Fetch(t.Context(), OperationErrors{}, blueEnv, w)
		assertNoData(t, err)
	})
	t.Run("jaeger down", func(t *testing.T) {
		j.Stop()
		_, err := src.Fetch(t.Context(), OperationErrors{Operation: op}, blueEnv, w)
		var se *source.Error
		require.ErrorAs(t, err, &se)
		assert.True(t, se.Retryable, "%v", err)
		assert.False(t, errors.Is(err, source.ErrNoData))
	})
}

// hit sends n GETs with a W3C traceparent, a few at a time, and returns how many got a 5xx.
func hit(t *testing.T, url string, n int) int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		errs   []error
	)
	jobs := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for range jobs {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
				if err == nil {
					req.Header.Set("traceparent", traceparent())
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						resp.Body.Close()
						if resp.StatusCode >= 500 {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	return failed
}

func traceparent() string {
	var id [24]byte
	_, _ = rand.Read(id[:])
	return "00-" + hex.EncodeToString(id[:16]) + "-" + hex.EncodeToString(id[16:]) + "-01"
}

func assertNoData(t *testing.T, err error) {
	t.Helper()
	var se *source.Error
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, source.ErrNoData)
	assert.True(t, se.Retryable)
	assert.Equal(t, SourceName, se.Source)
}
