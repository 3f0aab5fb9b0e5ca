// Package pgtest runs a real, throwaway PostgreSQL server for tests: one cluster per test
// binary, created with initdb in a temporary folder on first use, listening only on a unix
// socket in that folder (its port a free one), with fsync off; each test gets a database of
// its own. Main stops the server and removes the folder when the tests are done.
//
// The server binaries are Debian's (package postgresql), found with pg_config --bindir, in
// /usr/lib/postgresql/*/bin or on PATH. initdb refuses to run as root: as root, the server runs
// as the user nobody, in a folder it owns. Without the binaries a test fails with what to
// install, except under -short, where it is skipped.
//
// A test that stops the database mid-way (a fault test) or a benchmark takes a Server of its
// own instead (New, Launch): Stop and Start it again on the same data and port.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// superuser is the cluster's superuser, made by initdb; the sockets trust it.
const superuser = "greenlight"

var (
	once    sync.Once
	shared  *cluster
	failure error
	dbs     atomic.Int64
)

type cluster struct {
	dir  string // the temporary folder: data/, the socket, the log
	bin  string
	port int
	cred *syscall.Credential // nil when not root
}

// Main runs the tests and then stops the cluster, if a test started one: call it from
// TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// DSN creates a new, empty database for t in the shared cluster (starting it on first use)
// and returns its postgres:// DSN.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared, failure = start() })
	if failure != nil {
		refuse(t, failure, testing.Short())
		return ""
	}
	dsn, err := shared.create(t.Context(), fmt.Sprintf("t%d_%d", os.Getpid(), dbs.Add(1)))
	if err != nil {
		t.Fatalf("PostgreSQL for the tests: %v", err)
	}
	return dsn
}

// refuse ends a test that has no server: a failure, or under -short a skip when the binaries
// are missing (CI installs them; the full run never skips).
func refuse(t testing.TB, err error, short bool) {
	t.Helper()
	if short && errors.Is(err, errNoBinaries) {
		t.Skipf("PostgreSQL: %v (the full run fails without it)", err)
		return
	}
	t.Fatalf("PostgreSQL for the tests: %v", err)
}

func (c *cluster) dsn(database string) string {
	q := url.Values{"host": {c.dir}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	return "postgres://" + superuser + "@/" + database + "?" + q.Encode()
}

var errNoBinaries = errors.New("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql package")

// binDir finds the folder of initdb, pg_ctl and postgres.
func binDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return version(versions[i]) > version(versions[j]) })
	candidates = append(candidates, versions...)
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	return firstBinDir(candidates)
}

// firstBinDir is the first of dirs that holds the server's programs.
func firstBinDir(dirs []string) (string, error) {
	for _, dir := range dirs {
		if isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "pg_ctl")) && isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func start() (*cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if c.port, err = freePort(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := c.run("initdb", "--pgdata", data, "--username", superuser, "--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// start starts the server on the cluster's data folder and port; it returns once the server
// accepts connections.
func (c *cluster) start() error {
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories=%s -p %d -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.dir, c.port)
	// -w: pg_ctl returns once the server accepts connections.
	if err := c.run("pg_ctl", "start", "-w", "--pgdata", filepath.Join(c.dir, "data"), "--log", filepath.Join(c.dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

// halt stops the server as an administrator's fast shutdown does: it ends every session
// (clients see their connections dropped), checkpoints and exits, keeping the data.
func (c *cluster) halt() error {
	return c.run("pg_ctl", "stop", "-w", "--pgdata", filepath.Join(c.dir, "data"), "--mode", "fast")
}

// create makes a new, empty database and returns its DSN.
func (c *cluster) create(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.dsn("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.dsn(name), nil
}

// Server is a PostgreSQL server of its own (not the shared one DSN uses), for a test or a
// benchmark that stops it and starts it again: on the same data and port, so that the DSNs it
// gave keep working once it is back.
type Server struct {
	c    *cluster
	mu   sync.Mutex
	gone bool
}

// Launch creates and starts a server of its own in a new temporary folder; Remove stops it
// and removes the folder.
func Launch() (*Server, error) {
	c, err := start()
	if err != nil {
		return nil, err
	}
	return &Server{c: c}, nil
}

// New is Launch for a test: the server is removed when the test ends. Without the server's
// binaries the test fails (under -short it is skipped).
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		refuse(t, err, testing.Short())
		return nil
	}
	t.Cleanup(func() {
		if err := s.Remove(); err != nil {
			t.Errorf("PostgreSQL for the tests: %v", err)
		}
	})
	return s
}

// Database creates a new, empty database on the server and returns its postgres:// DSN.
func (s *Server) Database(ctx context.Context, name string) (string, error) {
	return s.c.create(ctx, name)
}

// Stop stops the server (pg_ctl stop --mode fast): every connection to it is closed, and
// new ones are refused until Start.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.halt()
}

// Start starts the stopped server again, on the same data folder and port; it returns once
// the server accepts connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.start()
}

// Remove stops the server at once, whether it runs or not, and removes its folder.
func (s *Server) Remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return nil
	}
	s.gone = true
	if s.running() {
		return s.c.stop()
	}
	return os.RemoveAll(s.c.dir)
}

// running reports whether the server's postmaster is up (its pid file exists).
func (s *Server) running() bool {
	_, err := os.Stat(filepath.Join(s.c.dir, "data", "postmaster.pid"))
	return err == nil
}

// stop stops the server at once (its data is thrown away) and removes the folder.
func (c *cluster) stop() error {
	err := c.run("pg_ctl", "stop", "-w", "--pgdata", filepath.Join(c.dir, "data"), "--mode", "immediate")
	return errors.Join(err, os.RemoveAll(c.dir))
}

// run runs one of the server's programs as the cluster's user.
func (c *cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out.String())
	}
	return nil
}

// freePort is a TCP port nothing listens on now: the socket file's number (the server itself
// listens on no TCP port).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
