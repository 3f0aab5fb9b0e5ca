package specs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileSeeds are inputs that once crashed, hung or exhausted the loader, or slipped through it.
var hostileSeeds = []string{
	"",
	"# only a comment\n",
	"---\n---\n",
	"- *a\n",
	"a: &a [*a]\n",
	"kind: Suite\nsteps: [{name: x, http: {url: /, json: &a [*a]}}]\n",
	"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
	"a: " + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "\n",
	"vars: {a: \"" + strings.Repeat("${SMOKE_PASS}", 2000) + "\"}\n",
	"kind: Suite\nsteps: [{name: x, http: {url: '{{ .a.b.c }}'}, expect: ['1m < 2s']}]",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nvars: {f: x}\nsteps: [{name: a, http: {url: '/{{ call .vars.f }}'}}]\n",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsteps: [{name: a, http: {body: '{{ range 1000000000 }}x{{ end }}', url: /}}]\n",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsteps: [{name: a, http: {url: '/{{ printf \"%0999999999d\" 1 }}'}}]\n",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsteps: [{name: a, http: {url: /, headers: {X: \"a\\r\\nB: c\"}}}]\n",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsteps:\n  - name: a\n    http:\n",
	"apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\nsecrets: {p: {file: /dev/zero}}\nsteps: [{name: a, http: {url: /}}]\n",
	"apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: a}\nenvironments: {blue: {url: \"http://b\"}, green: {url: \"http://g\"}}\nbaseline: blue\ncandidate: green\nsmoke: [./fuzz.yaml]\nchecks: [{name: e, errorRate: {from: m, maxRatio: 2}}]\n",
	"x: 1\na: [1, 2\n",
	"@foo\n",
	"x: 1\ny: ab\x01c\n",
	"x: 1\ny: \xff\n",
	"x: [a, *nope]\n",
}

// FuzzLoad feeds arbitrary bytes to the loader, as a file next to a valid suite (so that links
// by name and by path are exercised): it must never panic, hang or exhaust memory, and every
// error about the file's content must carry a line and a column.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	examples, _ := filepath.Glob("../examples/*/*.yaml")
	for _, p := range append(seeds, examples...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	env := envOf("SMOKE_PASS", "pw", "API_KEY", "k")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		spec := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(spec, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "suite.yaml"), []byte(minimalSuite), 0o600); err != nil {
			t.Fatal(err)
		}
		docs, err := Load([]string{spec, filepath.Join(dir, "suite.yaml")}, LoadOptions{LookupEnv: env})
		if docs == nil {
			t.Fatal("Load returned no documents")
		}
		if es, ok := err.(Errors); ok {
			for _, e := range es {
				if e.Pos.File != spec || strings.Contains(e.Msg, "no documents") {
					continue
				}
				if e.Pos.Line <= 0 || e.Pos.Column <= 0 {
					t.Errorf("error without a position: %s", e)
				}
			}
		}
		for _, s := range docs.Suites {
			if s.Redactor() == nil {
				t.Fatal("nil redactor")
			}
		}
	})
}

const minimalSuite = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: checkout-smoke}
steps:
  - name: health
    http: {url: /health}
`
