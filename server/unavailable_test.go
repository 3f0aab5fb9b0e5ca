package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
)

// downStore is a store whose reads of analyses fail; down says whether it can be reached at
// all (Ping), as a database that is away.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (d *downStore) ListAnalyses(context.Context, store.Query) (store.Page, error) {
	return store.Page{}, errors.New("read failed")
}

func (d *downStore) Ping(ctx context.Context) error {
	if d.down.Load() {
		return errors.New("connection refused")
	}
	return d.Store.Ping(ctx)
}

// TestStoreUnavailableIs503: a request that fails because the store cannot be reached is a
// 503 with Retry-After — a client or load balancer tries again, here or on another replica —
// while a store that answers its ping but fails a query is a 500.
func TestStoreUnavailableIs503(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	require.NoError(t, err)
	ds := &downStore{Store: st}
	d := startDaemon(t, daemonConfig{store: ds, tokens: testTokens(t)})

	status, body := d.call(http.MethodGet, "/api/v1/analyses", readToken, nil)
	assert.Equal(t, http.StatusInternalServerError, status, string(body))

	ds.down.Store(true)
	req, err := http.NewRequest(http.MethodGet, d.url+"/api/v1/analyses", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := d.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	ds.down.Store(false)
}
