package specs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the decoder: it must never panic, and whatever it accepts
// must marshal and load again.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	examples, _ := filepath.Glob("../examples/suites/*.yaml")
	for _, p := range append(seeds, examples...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: a}\nsteps: [{name: b, http: {url: /}}]\n"))
	f.Add([]byte("- *a\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("kind: Suite\nsteps: [{name: x, http: {url: '{{ .a.b.c }}'}, expect: ['1m < 2s']}]"))
	env := envOf("SMOKE_PASS", "pw", "API_KEY", "k")
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse("fuzz.yaml", data, LoadOptions{LookupEnv: env})
		if err != nil || docs == nil {
			return
		}
		for _, s := range docs.Suites {
			if s.Redactor() == nil {
				t.Fatal("nil redactor")
			}
		}
	})
}
