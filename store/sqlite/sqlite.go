// Package sqlite is the embedded store (modernc.org/sqlite, pure Go): one database file in
// WAL mode, one connection that writes and a small pool that reads beside it, and the schema
// migrated at Open from the versioned SQL files embedded in the binary.
//
// Durability: commits are made with synchronous=NORMAL, which survives a crash of the process
// (kill -9) but may lose the last commits on a power loss; a verdict's commit is made with
// synchronous=FULL, which flushes it and everything written before it, so that a verdict once
// reported is never lost.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/greenlight/greenlight/store/internal/sqlstore"

	_ "modernc.org/sqlite" // the driver, "sqlite"

	"github.com/greenlight/greenlight/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultBusyTimeout is how long a statement waits for a lock another process holds.
const DefaultBusyTimeout = 5 * time.Second

// readers is the size of the pool that reads (WAL lets readers run beside the writer).
const readers = 4

// Store is a store.Store in one SQLite database file.
type Store struct {
	w    *sql.DB // the single writer connection
	r    *sql.DB // readers
	path string

	leases leases
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file at path and applies the migrations it
// has not seen. A database written by a newer greenlight (a migration this one does not know)
// is refused rather than misread.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: no path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append([]string{
			"busy_timeout(" + strconv.FormatInt(DefaultBusyTimeout.Milliseconds(), 10) + ")",
			"foreign_keys(1)",
			"journal_mode(WAL)",
			"synchronous(NORMAL)",
		}, extra...) {
			q.Add("_pragma", p)
		}
		// A writing transaction takes the lock at BEGIN, never half-way through.
		q.Set("_txlock", "immediate")
		return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, path: abs}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	return nil
}

// Close closes the database; the WAL is checkpointed into the file.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// migrate applies, each in its own transaction, the migrations newer than the database's.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlite store: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite store %s: %w", s.path, err)
	}
	var have int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("sqlite store %s: read schema version: %w", s.path, err)
	}
	if have > len(ms) {
		return fmt.Errorf("sqlite store %s: schema version %d is newer than this greenlight knows (%d): use a newer greenlight", s.path, have, len(ms))
	}
	for _, m := range ms[have:] {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite store %s: migration %s: %w", s.path, m.Name, err)
		}
	}
	return nil
}

// tx runs f in a writing transaction.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// durableTx runs f in a writing transaction committed with synchronous=FULL: when it returns,
// the commit (and every commit before it) is on disk.
func (s *Store) durableTx(ctx context.Context, f func(*sql.Tx) error) (err error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`); rerr != nil && err == nil {
			err = rerr
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// What both SQL stores do alike (store/internal/sqlstore).
var (
	nanos        = sqlstore.Nanos
	fromNanos    = sqlstore.FromNanos
	jsonMap      = sqlstore.JSONMap
	eventLimit   = sqlstore.EventLimit
	encodeCursor = sqlstore.EncodeCursor
	decodeCursor = sqlstore.DecodeCursor
)

type migration = sqlstore.Migration

func loadMigrations() ([]migration, error) { return sqlstore.LoadMigrations(migrations, "migrations") }
