package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "greenlight.db"))
		require.NoError(t, err)
		return s
	})
}

// TestRestart closes the database file and opens it again: everything reads back.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "greenlight.db")
	storetest.RunDurable(t, func() store.Store {
		s, err := Open(context.Background(), path)
		require.NoError(t, err)
		return s
	})
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greenlight.db")
	for range 2 {
		s, err := Open(ctx, path)
		require.NoError(t, err)
		var n int
		require.NoError(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
		ms, err := loadMigrations()
		require.NoError(t, err)
		assert.Equal(t, len(ms), n)
		var mode string
		require.NoError(t, s.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
		assert.Equal(t, "wal", mode)
		require.NoError(t, s.Close())
	}
}

func TestRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greenlight.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(ctx, path)
	require.ErrorContains(t, err, "schema version 999 is newer than this greenlight knows")
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(context.Background(), "")
	assert.Error(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "not-a-db"), []byte("this is not a database, just text long enough to have a header"), 0o600))
	_, err = Open(context.Background(), filepath.Join(dir, "not-a-db"))
	assert.Error(t, err)
	_, err = Open(context.Background(), filepath.Join(dir, "missing", "folder", "greenlight.db"))
	assert.Error(t, err)
}
