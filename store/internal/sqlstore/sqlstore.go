// Package sqlstore holds what the SQL stores (store/sqlite, store/postgres) do alike and that
// does not depend on the database: how times, maps and page cursors are written, and reading
// the embedded migrations.
package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/store"
)

// Nanos is how a time is stored: Unix nanoseconds, 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos reads a stored time back, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// JSONMap is how labels and environment URLs are stored: a JSON object, {} for none.
func JSONMap(m map[string]string) (string, error) {
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// MaxEvents bounds one read of events.
const MaxEvents = 10_000

// EventLimit is the number of events one read returns: limit, or MaxEvents when limit is not
// in (0, MaxEvents].
func EventLimit(limit int) int {
	if limit <= 0 || limit > MaxEvents {
		return MaxEvents
	}
	return limit
}

// EncodeCursor is the page cursor after an analysis: its creation time and id (the list's
// order, newest first).
func EncodeCursor(a store.Analysis) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(Nanos(a.CreatedAt), 10) + "/" + a.ID))
}

// DecodeCursor reads a cursor EncodeCursor wrote.
func DecodeCursor(c string) (created int64, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		ts, rest, ok := strings.Cut(string(b), "/")
		if created, err = strconv.ParseInt(ts, 10, 64); err == nil && ok {
			return created, rest, nil
		}
	}
	return 0, "", fmt.Errorf("invalid page cursor %q", c)
}

// Migration is one embedded SQL file, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the migrations in dir of fsys, in order; their versions must count from
// 1 without gaps.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must count from 1 without gaps", m.Name)
		}
	}
	return out, nil
}
