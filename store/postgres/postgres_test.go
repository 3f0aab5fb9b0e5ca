package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
	"github.com/greenlight/greenlight/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}

// TestRestart closes the pool and opens the same database again: everything reads back.
func TestRestart(t *testing.T) {
	dsn := pgtest.DSN(t)
	storetest.RunDurable(t, func() store.Store { return open(t, dsn) })
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	ms, err := loadMigrations()
	require.NoError(t, err)
	for range 2 {
		s := open(t, dsn)
		var n int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
		assert.Equal(t, len(ms), n)
		require.NoError(t, s.Close())
	}
}

// TestConcurrentStarts opens one empty database from 8 stores at once, as replicas starting
// together do: the advisory lock lets one migrate while the others wait, and every one opens.
func TestConcurrentStarts(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, dsn)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "store %d", i)
	}
	s := open(t, dsn)
	defer s.Close()
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
	ms, err := loadMigrations()
	require.NoError(t, err)
	assert.Equal(t, len(ms), n, "each migration applied once")
}

func TestRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(ctx, dsn)
	require.ErrorContains(t, err, "schema version 999 is newer than this greenlight knows")
}

// TestOpenErrorsHideThePassword: a DSN that does not parse, or names a server that does not
// answer, is an error that never shows its password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "")
	assert.Error(t, err)
	const password = "s3cr3t-pw"
	for _, dsn := range []string{
		"postgres://ana:" + password + "@localhost:notaport/db",
		"host=localhost port=notaport user=ana password=" + password,
		"postgres://ana:" + password + "@127.0.0.1:1/db?connect_timeout=5",
		fmt.Sprintf("host=%s port=1 user=ana password=%s dbname=db", t.TempDir(), password),
	} {
		_, err := Open(ctx, dsn)
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), password)
	}
	_, err = Open(ctx, "postgres://ana:"+password+"@localhost:notaport/db")
	assert.ErrorIs(t, err, ErrDSN)
}

// TestEventIDsCommitInOrder: while one transaction's events are not committed, another
// append waits, so that no reader following the global stream by ID sees a later event and
// then passes over the earlier one when it commits.
func TestEventIDsCommitInOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t))
	defer s.Close()
	for _, id := range []string{"a1", "a2"} {
		_, _, err := s.CreateAnalysis(ctx, store.Analysis{ID: id, Spec: "checkout", CreatedAt: time.Unix(1, 0)})
		require.NoError(t, err)
	}
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	first := []store.Event{{Analysis: "a1", Seq: 1, Time: time.Unix(2, 0), Kind: "tick"}}
	require.NoError(t, appendEvents(ctx, tx, first, 0))

	later := make(chan error, 1)
	second := []store.Event{{Analysis: "a2", Seq: 1, Time: time.Unix(3, 0), Kind: "tick"}}
	go func() { later <- s.AppendEvents(ctx, second, 0) }()
	// The second append either waits for the first's lock (as it must) or has committed.
	var done bool
	for waiting := 0; waiting == 0 && !done; {
		select {
		case err := <-later:
			require.NoError(t, err)
			done = true
		default:
			require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting))
		}
	}
	seen, err := s.AllEventsAfter(ctx, 0, 0)
	require.NoError(t, err)
	assert.Empty(t, seen, "no event is visible while an earlier one is not committed")
	assert.False(t, done, "the second append waited for the first")

	require.NoError(t, tx.Commit(ctx))
	if !done {
		require.NoError(t, <-later)
	}
	seen, err = s.AllEventsAfter(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, seen, 2)
	assert.Equal(t, "a1", seen[0].Analysis)
	assert.Equal(t, "a2", seen[1].Analysis)
}

// TestLeasesHaveTheirOwnConnections: with every connection of the store's pool busy (a replica
// writing the events of hundreds of analyses), its leases are still renewed at once — they
// have connections of their own — so a busy replica does not lose its analyses.
func TestLeasesHaveTheirOwnConnections(t *testing.T) {
	dsn := pgtest.DSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := open(t, dsn+sep+"pool_max_conns=1")
	defer s.Close()
	ctx := t.Context()
	now := time.Now()
	a, created, err := s.CreateAnalysis(ctx, store.Analysis{ID: "a1", Spec: "s", CreatedAt: now, UpdatedAt: now, Owner: "me", LeaseUntil: now.Add(time.Minute)})
	require.NoError(t, err)
	require.True(t, created, a.ID)
	assert.Equal(t, int32(1), s.pool.Config().MaxConns, "the DSN's pool_max_conns is kept")

	busy, err := s.pool.Acquire(ctx) // the pool's one connection, held
	require.NoError(t, err)
	defer busy.Release()
	short, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lost, err := s.RenewLeases(short, "me", []string{"a1"}, time.Minute, time.Now())
	require.NoError(t, err, "renewed while the pool is busy")
	assert.Empty(t, lost)
	ok, err := s.AcquireLease(short, "a1", "other", time.Minute, time.Now())
	require.NoError(t, err)
	assert.False(t, ok, "still held")
	_, err = s.ExpiredLeases(short, time.Now(), 10)
	require.NoError(t, err)
	require.NoError(t, s.ReleaseLease(short, "a1", "me"))
}

// TestDefaultPoolSize: without pool_max_conns in the DSN a store opens up to DefaultMaxConns.
func TestDefaultPoolSize(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	defer s.Close()
	assert.GreaterOrEqual(t, s.pool.Config().MaxConns, int32(DefaultMaxConns))
	assert.Equal(t, int32(LeaseConns), s.leases.Config().MaxConns)
}
