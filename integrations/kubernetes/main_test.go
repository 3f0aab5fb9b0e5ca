package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/greenlight/greenlight/integrations/kubernetes/image"
	"github.com/greenlight/greenlight/integrations/kubernetes/internal/repo"
)

var (
	greenlightBin string // cmd/greenlight built as the image carries it
	manifestsDir  string // deploy/kubernetes
	repoRoot      string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = repo.Root(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	manifestsDir = filepath.Join(repoRoot, "deploy", "kubernetes")
	dir, err := os.MkdirTemp("", "greenlight-kubernetes-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	greenlightBin = filepath.Join(dir, "greenlight")
	if err := image.CompileBinary(context.Background(), repoRoot, runtime.GOARCH, "", greenlightBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
