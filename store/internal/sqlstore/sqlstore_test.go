package sqlstore

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
)

func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 4, 10, 5, time.UTC)
	created, id, err := DecodeCursor(EncodeCursor(store.Analysis{ID: "3f9a/0c", CreatedAt: at}))
	require.NoError(t, err)
	assert.Equal(t, at.UnixNano(), created)
	assert.Equal(t, "3f9a/0c", id, "an id may hold the separator")
	for _, bad := range []string{"", "!!", "bm8tc2xhc2g", "eC95"} { // "no-slash", "x/y"
		_, _, err := DecodeCursor(bad)
		assert.Error(t, err, bad)
	}
}

func TestTimesAndMaps(t *testing.T) {
	assert.Equal(t, int64(0), Nanos(time.Time{}))
	assert.True(t, FromNanos(0).IsZero())
	at := time.Date(2026, 3, 1, 12, 0, 0, 7, time.UTC)
	assert.Equal(t, at, FromNanos(Nanos(at.In(time.FixedZone("x", 3600)))), "read back in UTC")
	m, err := JSONMap(nil)
	require.NoError(t, err)
	assert.Equal(t, "{}", m)
	assert.Equal(t, MaxEvents, EventLimit(0))
	assert.Equal(t, MaxEvents, EventLimit(MaxEvents+1))
	assert.Equal(t, 5, EventLimit(5))
}

func TestLoadMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
	}
	ms, err := LoadMigrations(fsys, "m")
	require.NoError(t, err)
	assert.Equal(t, []Migration{{1, "0001_init.sql", "A"}, {2, "0002_more.sql", "B"}}, ms)

	_, err = LoadMigrations(fstest.MapFS{"m/0002_gap.sql": {Data: []byte("B")}}, "m")
	assert.ErrorContains(t, err, "without gaps")
	_, err = LoadMigrations(fstest.MapFS{"m/init.sql": {Data: []byte("A")}}, "m")
	assert.ErrorContains(t, err, "want NNNN_name.sql")
}
