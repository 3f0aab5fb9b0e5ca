package specs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAliasBudgets: every walk over a document follows aliases, so a cycle or an exponential
// expansion anywhere — a JSON body, vars, conditions, env expansion, the top level — is refused
// before any walk, with the alias's position.
func TestAliasBudgets(t *testing.T) {
	laughs := func(indent string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%sa: &a [x, x, x, x, x, x, x, x, x, x]\n", indent)
		prev := "a"
		for _, c := range "bcdefghi" {
			fmt.Fprintf(&b, "%s%c: &%c [%s]\n", indent, c, c, strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", "))
			prev = string(c)
		}
		return b.String()
	}
	head := "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: s}\n"
	cases := []struct {
		name, src, want string
	}{
		{"cycle at the top level", "a: &a [*a]\n", "s.yaml:1:8: alias *a refers to itself (its anchor &a contains it)"},
		{"cycle through a mapping", head + "vars: &v {x: [*v]}\n", "s.yaml:4:15: alias *v refers to itself (its anchor &v contains it)"},
		{"cycle in conditions", head + "steps:\n  - name: a\n    http: {url: /}\n    expect: &e [*e]\n", "s.yaml:7:17: alias *e refers to itself (its anchor &e contains it)"},
		{"expansion in vars", head + "vars:\n" + laughs("  "), "s.yaml:9:38: aliases expand to more than 100000 nodes"},
		{"expansion with env references", head + "vars:\n" + strings.ReplaceAll(laughs("  "), "x", `"${X}"`), "s.yaml:9:38: aliases expand to more than 100000 nodes"},
		{"expansion in an analysis", "apiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: a}\nenvironments:\n" + laughs("  "), "s.yaml:9:38: aliases expand to more than 100000 nodes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.src), LoadOptions{LookupEnv: envOf("X", "y")})
			assert.EqualError(t, err, tc.want)
		})
	}

	t.Run("depth counted through aliases", func(t *testing.T) {
		deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
		src := head + "vars:\n  a: &a " + deep + "\n  b: " + strings.Repeat("[", 500) + "*a" + strings.Repeat("]", 500) + "\n"
		_, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the document nests deeper than 1000 levels (counting through aliases)")
	})

	t.Run("ordinary anchors still work", func(t *testing.T) {
		src := head + `defaults:
  headers: &h {Accept: application/json}
steps:
  - name: a
    http: {url: /a, headers: *h, json: &body {id: 1, tags: [x, y]}}
  - name: b
    http: {url: /b, json: {again: *body}}
`
		docs, err := Parse("s.yaml", []byte(src), LoadOptions{LookupEnv: noEnv})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"again": map[string]any{"id": 1, "tags": []any{"x", "y"}}}, docs.Suites[0].Steps[1].HTTP().JSON.Value)
	})
}
