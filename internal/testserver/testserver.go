// Package testserver finds the real servers the integration tests run against (Prometheus,
// Jaeger): on PATH, in the user's cache, or else built once from the project's tools modules.
// It is for tests only.
package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	found = map[string]result{}
)

type result struct {
	path string
	err  error
}

// Binary returns the path of a server binary called name: `name` on PATH, or
// <user cache>/greenlight-test/<name>, or else one built there from tools/<name> (package pkg,
// several minutes the first time) — so the tests also run on a machine that has only Go.
func Binary(t testing.TB, name, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	r, ok := found[name]
	if !ok {
		r = locate(t, name, pkg)
		found[name] = r
	}
	if r.err != nil {
		t.Fatalf("a real %s is needed (on PATH, or built from tools/%s): %v", name, name, r.err)
	}
	return r.path
}

func locate(t testing.TB, name, pkg string) result {
	if p, err := exec.LookPath(name); err == nil {
		return result{path: p}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return result{err: err}
	}
	out := filepath.Join(cache, "greenlight-test", name)
	if _, err := os.Stat(out); err == nil {
		return result{path: out}
	}
	t.Logf("no %s on PATH: building it from tools/%s (several minutes the first time)", name, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Join(moduleRoot(), "tools", name)
	if b, err := cmd.CombinedOutput(); err != nil {
		return result{err: fmt.Errorf("build %s: %v\n%s", name, err, b)}
	}
	return result{path: out}
}

// moduleRoot is the repository root, found from this file's location.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// FreeAddr returns a free loopback host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
