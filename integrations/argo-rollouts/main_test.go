package argorollouts_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/daemontest"
	"github.com/greenlight/greenlight/integrations/argo-rollouts/provider"
)

// Paths the tests share, set by TestMain.
var (
	greenlightBin string // cmd/greenlight of the main module, built once
	pluginBin     string // cmd/greenlight-argo-rollouts, built once
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
	pluginBin = filepath.Join(bin, "greenlight-argo-rollouts")
	if out, err := exec.Command("go", "build", "-o", pluginBin, "./cmd/greenlight-argo-rollouts").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/greenlight-argo-rollouts: %v\n%s", err, out)
		return 1
	}
	// As in the Argo Rollouts controller's pod: Argo reads its ConfigMap from its own namespace
	// and copies plugins into plugin-bin under its working directory; the plugin inherits the
	// controller's environment, the token with it.
	if err := os.Chdir(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("POD_NAMESPACE", "argo-rollouts")
	os.Setenv(provider.DefaultTokenEnv, daemontest.Token)
	defer goplugin.CleanupClients()
	return m.Run()
}
