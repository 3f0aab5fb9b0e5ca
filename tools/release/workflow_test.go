package release

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	workflowPath   = "../../.github/workflows/release.yml"
	kubernetesMod  = "../../integrations/kubernetes/go.mod"
	goreleaserPath = "github.com/goreleaser/goreleaser/v2"
)

// workflow is the part of a GitHub Actions workflow the release relies on.
type workflow struct {
	Name string `yaml:"name"`
	On   struct {
		Push struct {
			Tags []string `yaml:"tags"`
		} `yaml:"push"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		RunsOn string `yaml:"runs-on"`
		Steps  []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
			Env  map[string]string `yaml:"env"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestReleaseWorkflow: on a v* tag, the workflow checks this configuration, runs the GoReleaser
// this test loads it with, then builds and pushes the image with the crane of the image
// builder's go-containerregistry.
func TestReleaseWorkflow(t *testing.T) {
	data, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", workflowPath, err)
	}
	if len(w.On.Push.Tags) != 1 || w.On.Push.Tags[0] != "v*" {
		t.Errorf("on push tags %q: want v*", w.On.Push.Tags)
	}
	if w.Permissions["contents"] != "write" || w.Permissions["packages"] != "write" {
		t.Errorf("permissions %v: want contents and packages write", w.Permissions)
	}
	job, ok := w.Jobs["release"]
	if !ok || len(w.Jobs) != 1 {
		t.Fatalf("jobs: want one, release")
	}
	var order []string
	for _, s := range job.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "goreleaser/goreleaser-action@"):
			order = append(order, "goreleaser")
			if want := requiredVersion(t, "go.mod", goreleaserPath); s.With["version"] != want {
				t.Errorf("goreleaser-action version %q: want %s, the version this test loads the configuration with", s.With["version"], want)
			}
			if s.With["args"] != "release --clean" || s.Env["GITHUB_TOKEN"] == "" {
				t.Errorf("goreleaser-action with %v env %v: want release --clean and GITHUB_TOKEN", s.With, s.Env)
			}
		case strings.Contains(s.Run, "cd tools/release && go test ./..."):
			order = append(order, "check")
		case strings.Contains(s.Run, "go install github.com/google/go-containerregistry/cmd/crane@"):
			order = append(order, "crane")
			v := regexp.MustCompile(`cmd/crane@(\S+)`).FindStringSubmatch(s.Run)[1]
			if want := requiredVersion(t, kubernetesMod, "github.com/google/go-containerregistry"); v != want {
				t.Errorf("crane@%s: want %s, the image builder's go-containerregistry", v, want)
			}
		case strings.Contains(s.Run, ".ci/release-image"):
			order = append(order, "image")
		}
	}
	if got := strings.Join(order, " "); got != "check goreleaser crane image" {
		t.Errorf("steps %q: want the check, GoReleaser, crane, then the image", got)
	}
	if _, err := os.Stat("../../.ci/release-image"); err != nil {
		t.Error(err)
	}
}

// requiredVersion is the version a go.mod requires of a module.
func requiredVersion(t *testing.T, gomod, path string) string {
	t.Helper()
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(path) + `\s+(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s does not require %s", gomod, path)
	}
	return string(m[1])
}
