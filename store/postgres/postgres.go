// Package postgres is the store in a PostgreSQL database (github.com/jackc/pgx/v5): a pool of
// connections, and the schema migrated at Open from the versioned SQL files embedded in the
// binary, under an advisory lock so that several replicas starting at once apply each
// migration once.
//
// What the database enforces rather than the code: one verdict per analysis (the verdicts
// table's primary key), one analysis per idempotency key (a unique key), one delivery per
// event and endpoint. Outbox claims lock the rows they take with FOR UPDATE SKIP LOCKED, so
// that two senders never claim the same delivery. A lease of a running analysis is taken or
// renewed by one upsert conditioned on its owner or its expiry, so that one replica holds it.
// Event appends are serialised by a transaction-level advisory lock, so that event IDs are
// committed in increasing order and a reader following the global stream by ID never skips one.
//
// Replicas hear of each other's commits through LISTEN/NOTIFY (Subscribe): the transactions
// that append events or record a verdict notify on commit, and one connection per Store
// listens. Notifications made while it is reconnecting are lost: it says so with a resync.
//
// The DSN is a secret: it is never logged, and errors hold it with its password redacted.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/store/internal/sqlstore"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/greenlight/greenlight/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (pg_advisory_lock's bigint space): the migrations, and the event appends.
const (
	migrateLock = 0x67726e6c_00000001 // "grnl" 1
	eventsLock  = 0x67726e6c_00000002 // "grnl" 2
)

// DefaultConnectTimeout bounds each connection attempt when the DSN sets no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// Connections a Store opens: DefaultMaxConns at most for its work unless the DSN says
// otherwise (pool_max_conns), and LeaseConns more for its leases alone.
const (
	DefaultMaxConns = 10
	LeaseConns      = 2
)

// ErrDSN: the DSN does not parse (its text is not repeated: it holds a password).
var ErrDSN = errors.New("the DSN does not parse")

// Store is a store.Store in one PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// leases is a pool of its own for renewing, releasing and looking for leases: a replica
	// busy writing events, snapshots and answering reads never makes its renewals wait for a
	// connection, and so never loses its analyses for being busy.
	leases  *pgxpool.Pool
	redact  func(string) string
	target  string // user@host/database, no password: how errors name the database
	changes changes
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Changes = (*Store)(nil)
)

// Open connects to the database dsn names (a postgres:// URL or key=value pairs) and applies
// the migrations it has not seen. A database written by a newer greenlight (a migration this
// one does not know) is refused rather than misread.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open postgres store: no DSN")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; none of it is shown.
		return nil, fmt.Errorf("open postgres store: %w (want postgres://USER:PASSWORD@HOST:PORT/DATABASE?OPTIONS)", ErrDSN)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	password := cfg.ConnConfig.Password
	s := &Store{
		redact: func(msg string) string {
			if password == "" {
				return msg
			}
			return strings.ReplaceAll(msg, password, "xxxxx")
		},
		target: fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default, the larger of 4 and the CPU count, is too few for a daemon writing
		// the events and snapshots of hundreds of analyses while it answers the API.
		cfg.MaxConns = max(DefaultMaxConns, cfg.MaxConns)
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns, lcfg.MinConns = LeaseConns, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.fail("open", err)
	}
	leases, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, s.fail("open", err)
	}
	s.pool, s.leases = pool, leases
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		leases.Close()
		return nil, err
	}
	return s, nil
}

// fail wraps err for the operation op on this database, its password redacted.
func (s *Store) fail(op string, err error) error {
	return &redacted{msg: s.redact(fmt.Sprintf("postgres store %s: %s: %v", s.target, op, err)), err: err}
}

// redacted is an error whose message has no password; Unwrap keeps errors.Is working.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Target names the database without its password: user@host:port/database.
func (s *Store) Target() string { return s.target }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.changes.close()
	s.pool.Close()
	s.leases.Close()
	return nil
}

// migrate applies, each in its own transaction, the migrations newer than the database's. One
// connection holds a session advisory lock meanwhile: a replica starting at the same moment
// waits, then finds them applied.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres store: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.fail("connect", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return s.fail("lock for migrations", err)
	}
	defer func() {
		// Unlocked on the same connection; if that fails the connection is dropped, which
		// releases the lock too.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock)); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return s.fail("create schema_migrations", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return s.fail("read schema version", err)
	}
	if have > len(ms) {
		return fmt.Errorf("postgres store %s: schema version %d is newer than this greenlight knows (%d): use a newer greenlight", s.target, have, len(ms))
	}
	for _, m := range ms[have:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return s.fail("migration "+m.Name, err)
		}
	}
	return nil
}

// tx runs f in a transaction.
func (s *Store) tx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}

// SQLSTATE codes the store branches on.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// args numbers the parameters of a query built piece by piece.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
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
