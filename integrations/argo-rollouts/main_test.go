package argorollouts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/daemontest"
)

// Paths the tests share, set by TestMain.
var (
	greenlightBin string // cmd/greenlight of the main module, built once
	repoRoot      string // the main module's folder
	specsDir      string // the specs the tests' daemons load
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = daemontest.MainModule(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if specsDir, err = filepath.Abs("testdata/specs"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, err := os.MkdirTemp("", "greenlight-argo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	if greenlightBin, err = daemontest.Build(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
