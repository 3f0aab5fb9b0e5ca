package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFirstBinDir(t *testing.T) {
	empty, full := t.TempDir(), t.TempDir()
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		require.NoError(t, os.WriteFile(filepath.Join(full, name), []byte("#!/bin/sh\n"), 0o755))
	}
	_, err := firstBinDir([]string{empty})
	assert.ErrorIs(t, err, errNoBinaries)
	got, err := firstBinDir([]string{empty, filepath.Join(empty, "missing"), full})
	require.NoError(t, err)
	assert.Equal(t, full, got)
}

// recorder is a testing.TB that records how a test would have ended.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

// TestMissingBinariesFail: without the server's programs a test fails, naming the package to
// install; only -short skips it.
func TestMissingBinariesFail(t *testing.T) {
	full := &recorder{TB: t}
	refuse(full, errNoBinaries, false)
	assert.Contains(t, full.fatal, "install Debian's postgresql package")
	assert.Empty(t, full.skip)

	short := &recorder{TB: t}
	refuse(short, errNoBinaries, true)
	assert.Contains(t, short.skip, "the full run fails without it")
	assert.Empty(t, short.fatal)

	broken := &recorder{TB: t}
	refuse(broken, fmt.Errorf("initdb: exit status 1"), true)
	assert.Contains(t, broken.fatal, "initdb: exit status 1", "a server that does not start fails even under -short")
}

// TestServerStopsAndStarts: a server of a test's own stops (its connections are closed, new
// ones refused) and starts again on the same data and port, the same DSN reaching the same
// rows; Remove removes its folder, stopped or not.
func TestServerStopsAndStarts(t *testing.T) {
	s := New(t)
	dsn, err := s.Database(t.Context(), "stops")
	require.NoError(t, err)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('before the stop')`)
	require.NoError(t, err)

	require.NoError(t, s.Stop())
	_, err = conn.Exec(ctx, `SELECT 1`)
	assert.Error(t, err, "the stop closed the connection")
	_, err = pgx.Connect(ctx, dsn)
	assert.Error(t, err, "a stopped server refuses connections")

	require.NoError(t, s.Start())
	again, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer again.Close(ctx)
	var v string
	require.NoError(t, again.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v))
	assert.Equal(t, "before the stop", v)

	require.NoError(t, s.Stop())
	require.NoError(t, s.Remove())
	_, err = os.Stat(s.c.dir)
	assert.True(t, os.IsNotExist(err), "the folder is removed")
	require.NoError(t, s.Remove(), "twice is harmless")
}
