package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

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
