package release

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goreleaser/fileglob"
	"github.com/goreleaser/goreleaser/v2/pkg/config"
)

const (
	configPath  = "../../.goreleaser.yaml"
	versionPath = "../../cmd/greenlight/version.go"
)

func load(t *testing.T) config.Project {
	t.Helper()
	p, err := config.Load(configPath)
	if err != nil {
		t.Fatalf("%s: %v", configPath, err)
	}
	return p
}

// TestConfigIsStrict: GoReleaser's loader refuses an unknown key, so that loading the file
// without error means every key in it is one GoReleaser reads.
func TestConfigIsStrict(t *testing.T) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	load(t)
	bad := bytes.Replace(data, []byte("    binary: greenlight\n"), []byte("    binary: greenlight\n    binaries: greenlight\n"), 1)
	if bytes.Equal(bad, data) {
		t.Fatal("the build's binary line is not where this test expects it")
	}
	if _, err := config.LoadReader(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "binaries") {
		t.Errorf("an unknown key loads: %v", err)
	}
	if p := load(t); p.Version != 2 {
		t.Errorf("version %d: want 2 (GoReleaser v2's schema)", p.Version)
	}
}

// TestBuild: one static build of ./cmd/greenlight for the platforms the install docs promise.
func TestBuild(t *testing.T) {
	p := load(t)
	if len(p.Builds) != 1 {
		t.Fatalf("%d builds: want 1", len(p.Builds))
	}
	b := p.Builds[0]
	if b.Main != "./cmd/greenlight" || b.Binary != "greenlight" {
		t.Errorf("main %q, binary %q: want ./cmd/greenlight, greenlight", b.Main, b.Binary)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("env %q: want CGO_ENABLED=0, a static binary", b.Env)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("flags %q: want -trimpath", b.Flags)
	}
	var targets []string
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			ignored := slices.ContainsFunc(b.Ignore, func(i config.IgnoredBuild) bool { return i.Goos == goos && i.Goarch == goarch })
			if !ignored {
				targets = append(targets, goos+"/"+goarch)
			}
		}
	}
	slices.Sort(targets)
	want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"}
	if !slices.Equal(targets, want) {
		t.Errorf("targets %q: want %q", targets, want)
	}
}

// TestLdflags: the -X flags set exactly version, commit and date, and each is a string
// variable of package main in cmd/greenlight/version.go (a renamed variable would otherwise be
// skipped by the linker without a word).
func TestLdflags(t *testing.T) {
	b := load(t).Builds[0]
	set := map[string]string{}
	x := regexp.MustCompile(`-X (\S+)=(\S+)`)
	for _, m := range x.FindAllStringSubmatch(strings.Join(b.Ldflags, " "), -1) {
		set[m[1]] = m[2]
	}
	want := map[string]string{"main.version": "v{{", "main.commit": "{{ .Commit", "main.date": "{{ .CommitDate"}
	if len(set) != len(want) {
		t.Errorf("-X flags %q: want %d of them", set, len(want))
	}
	for name, prefix := range want {
		if v, ok := set[name]; !ok || !strings.HasPrefix(v, strings.Fields(prefix)[0]) {
			t.Errorf("-X %s=%q: want a value starting %q", name, v, prefix)
		}
	}
	vars := stringVars(t, versionPath)
	for name := range set {
		v := strings.TrimPrefix(name, "main.")
		if !vars[v] {
			t.Errorf("-X %s: %s has no string variable %s", name, versionPath, v)
		}
	}
}

// stringVars are the package-level variables of a file that the linker's -X can set: strings
// without a value, or with a constant string one.
func stringVars(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name.Name != "main" {
		t.Fatalf("%s: package %s, want main", path, f.Name.Name)
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				typed := vs.Type != nil && types(vs.Type) == "string"
				lit := i < len(vs.Values) && isStringLit(vs.Values[i])
				if typed || lit {
					out[n.Name] = true
				}
			}
		}
	}
	return out
}

func types(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func isStringLit(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}

// TestArchives: tar.gz (zip on Windows) with the binary, the README, the docs, a license when
// there is one, and the completions the before hooks generate for bash, zsh and fish; and a
// checksums file.
func TestArchives(t *testing.T) {
	p := load(t)
	if len(p.Archives) != 1 {
		t.Fatalf("%d archives: want 1", len(p.Archives))
	}
	a := p.Archives[0]
	if !slices.Equal(a.IDs, []string{p.Builds[0].ID}) {
		t.Errorf("archive of builds %q: want %q", a.IDs, p.Builds[0].ID)
	}
	if !slices.Equal(a.Formats, []string{"tar.gz"}) || len(a.FormatOverrides) != 1 ||
		a.FormatOverrides[0].Goos != "windows" || !slices.Equal(a.FormatOverrides[0].Formats, []string{"zip"}) {
		t.Errorf("formats %q, overrides %+v: want tar.gz, zip on windows", a.Formats, a.FormatOverrides)
	}
	var files []string
	for _, f := range a.Files {
		files = append(files, f.Source)
	}
	for _, want := range []string{"README.md", "LICENSE*", "docs", "completions/*"} {
		if !slices.Contains(files, want) {
			t.Errorf("archive files %q: want %s", files, want)
		}
	}
	// What the archives hold, matched as GoReleaser matches them (its fileglob, from the root):
	// every doc, not only those in subfolders.
	packed := map[string]bool{}
	for _, f := range files {
		matches, err := fileglob.Glob(f, fileglob.WithFs(os.DirFS("../..")))
		if err != nil {
			t.Errorf("archive files %s: %v", f, err)
		}
		for _, m := range matches {
			packed[m] = true
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	docs = append(docs, "../../docs/integrations/ci.md", "../../README.md")
	for _, d := range docs {
		if rel := strings.TrimPrefix(d, "../../"); !packed[rel] {
			t.Errorf("%s is not packed", rel)
		}
	}
	hooks := strings.Join(p.Before.Hooks, "\n")
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if !strings.Contains(hooks, shell) {
			t.Errorf("before hooks %q: no %s completion", p.Before.Hooks, shell)
		}
	}
	if !strings.Contains(hooks, "go run ./cmd/greenlight completion") || !strings.Contains(hooks, "completions/greenlight.") {
		t.Errorf("before hooks %q: want the completions written by greenlight completion into completions/", p.Before.Hooks)
	}
	if p.Checksum.Disable || p.Checksum.NameTemplate != "checksums.txt" || p.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum %+v: want checksums.txt, sha256", p.Checksum)
	}
	if p.Release.GitHub.Owner != "greenlight" || p.Release.GitHub.Name != "greenlight" {
		t.Errorf("release to %s/%s: want greenlight/greenlight", p.Release.GitHub.Owner, p.Release.GitHub.Name)
	}
}
