package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/verdict"
)

// postgresDSN is a new database in the tests' PostgreSQL, its DSN with a password (which the
// tests' server, trusting its socket, ignores) that must never be shown.
func postgresDSN(t *testing.T) (dsn, password string) {
	t.Helper()
	password = "pg-password-for-serve-tests"
	dsn = pgtest.DSN(t)
	return strings.Replace(dsn, "postgres://greenlight@", "postgres://greenlight:"+password+"@", 1), password
}

// TestServeOnPostgres runs the daemon on a real PostgreSQL (the DSN from GREENLIGHT_STORE),
// decides an analysis, stops the daemon and starts it again: the verdict reads back, and the
// same key is the same analysis.
func TestServeOnPostgres(t *testing.T) {
	blue := startApp(t, app.Config{})
	green := startApp(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
	dsn, password := postgresDSN(t)
	t.Setenv("GREENLIGHT_STORE", dsn)
	args := []string{"--config", specDir(t, serveSpecs), "--tokens-file", tokensFile(t)}
	s := startServe(t, args...)
	assert.Contains(t, s.logs(), "store=postgres://greenlight@", "the log names the database")

	var a struct {
		ID string `json:"id"`
	}
	start := `{"spec": "gate", "key": "deploy-pg-1", "environments": {"blue": "` + blue + `", "green": "` + green + `"}}`
	require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", serveAdminToken, start, &a))
	v := s.waitDecided(t, a.ID, serveReadToken)
	assert.Equal(t, "rollback", v.Verdict, v.Reason)
	assert.Equal(t, verdict.ExitPass, s.stop(t), s.logs())
	assert.NotContains(t, s.logs(), password, "the DSN's password is never logged")

	s = startServe(t, args...)
	var after verdictJSON
	require.Equal(t, http.StatusOK, s.call(t, "GET", "/api/v1/analyses/"+a.ID+"/verdict", serveReadToken, "", &after))
	assert.Equal(t, v, after, "the verdict reads back unchanged after a restart")
	var again struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusOK, s.call(t, "POST", "/api/v1/analyses", serveAdminToken, start, &again), "the same key is the same analysis after a restart")
	assert.Equal(t, a.ID, again.ID)
	assert.Equal(t, verdict.ExitPass, s.stop(t), s.logs())
	assert.NotContains(t, s.logs(), password)
}

// TestServeOnPostgresOneAnalysisPerKey starts two daemons on one PostgreSQL database, as two
// replicas, and the same start (one idempotency key) from 8 goroutines spread over both: one
// analysis, created once, is every caller's answer.
func TestServeOnPostgresOneAnalysisPerKey(t *testing.T) {
	blue := startApp(t, app.Config{})
	dsn, _ := postgresDSN(t)
	t.Setenv("GREENLIGHT_STORE", dsn)
	args := []string{"--config", specDir(t, serveSpecs), "--tokens-file", tokensFile(t)}
	replicas := []*served{startServe(t, args...), startServe(t, args...)}
	start := `{"spec": "long", "key": "deploy-pg-race", "environments": {"blue": "` + blue + `", "green": "` + blue + `"}}`
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
	)
	for i := range 8 {
		wg.Go(func() {
			var a struct {
				ID string `json:"id"`
			}
			code := replicas[i%2].call(t, "POST", "/api/v1/analyses", serveAdminToken, start, &a)
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Errorf("start %d: status %d", i, code)
			}
			ids[a.ID]++
		})
	}
	wg.Wait()
	assert.Equal(t, 1, created, "one start created it")
	assert.Len(t, ids, 1, "every start got the same analysis: %v", ids)
	var list struct {
		Analyses []struct {
			ID string `json:"id"`
		} `json:"analyses"`
	}
	for i, r := range replicas {
		require.Equal(t, http.StatusOK, r.call(t, "GET", "/api/v1/analyses", serveReadToken, "", &list))
		assert.Len(t, list.Analyses, 1, fmt.Sprintf("replica %d lists one analysis", i))
	}
	for _, r := range replicas {
		assert.Equal(t, verdict.ExitPass, r.stop(t), r.logs())
	}
}

// TestServePostgresUnreachable: a database that does not answer stops the start (exit 4),
// naming it without its password.
func TestServePostgresUnreachable(t *testing.T) {
	code, _, errOut := cli(t, "serve", "--config", specDir(t, serveSpecs), "--store", "postgres://ana:pg-unreachable-pw@127.0.0.1:1/greenlight")
	assert.Equal(t, verdict.ExitInternal, code, errOut)
	assert.Contains(t, errOut, "postgres store ana@127.0.0.1:1/greenlight: connect")
	assert.NotContains(t, errOut, "pg-unreachable-pw")
}
