package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start runs the pair on free ports until the test ends, and checks that it stops cleanly.
func start(t *testing.T, o options) (blue, green string) {
	t.Helper()
	o.blueAddr, o.greenAddr = "127.0.0.1:0", "127.0.0.1:0"
	o.otlp = "" // no receiver here
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, o, slog.New(slog.DiscardHandler), func(b, g string) { urls <- [2]string{b, g} })
	}()
	var u [2]string
	select {
	case u = <-urls:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Ctrl-C stops both apps cleanly")
		for _, url := range u {
			_, err := http.Get(url + "/health")
			assert.Error(t, err, "%s still answers after the stop", url)
		}
	})
	return u[0], u[1]
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), string(b))
	return resp.StatusCode, v
}

// rehearse writes an order on green and reads it on blue, as
// examples/suites/rollback-rehearsal.yaml does.
func rehearse(t *testing.T, blue, green string) (int, map[string]any) {
	t.Helper()
	login := `{"username":"testuser","password":"testpass"}`
	code, tok := call(t, "POST", green+"/auth/login", "", login)
	require.Equal(t, http.StatusOK, code)
	code, order := call(t, "POST", green+"/api/orders", tok["token"].(string), `{"item":"rehearsal","quantity":2}`)
	require.Equal(t, http.StatusCreated, code)
	code, tok = call(t, "POST", blue+"/auth/login", "", login)
	require.Equal(t, http.StatusOK, code)
	return call(t, "GET", blue+"/api/orders/"+order["orderId"].(string), tok["token"].(string), "")
}

func TestBlueReadsWhatGreenWrote(t *testing.T) {
	blue, green := start(t, options{})
	_, h := call(t, "GET", green+"/health", "", "")
	assert.Equal(t, map[string]any{"status": "ok", "color": "green", "version": "v2"}, h)
	code, order := rehearse(t, blue, green)
	assert.Equal(t, http.StatusOK, code, "one store, as one database: %v", order)
	assert.Equal(t, "rehearsal", order["item"])
}

func TestIncompatibleFailsTheRehearsal(t *testing.T) {
	blue, green := start(t, options{incompatible: true})
	code, body := rehearse(t, blue, green)
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "cannot decode order written by a newer version", body["error"])
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-regressed", "-blue", ":9001"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, options{blueAddr: ":9001", greenAddr: "127.0.0.1:8082", otlp: "http://127.0.0.1:4318/v1/traces", regressed: true}, o)
	blue, green := configs(o)
	assert.Same(t, blue.Store, green.Store, "blue and green share one store")
	assert.InDelta(t, 0.03, green.Faults.ErrorRate["/api/orders"], 1e-9)
	_, err = parseFlags([]string{"extra"}, io.Discard)
	assert.Error(t, err)
}
