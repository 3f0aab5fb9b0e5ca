package specs

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSyntaxErrorPositions: yaml.v3 gives a line (0- or 1-based depending on the error) or
// nothing; every syntax error must still come out as file:line:col at the offending character.
func TestSyntaxErrorPositions(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"mapping value on the first line", "a: b: c\n",
			"f.yaml:1:5: invalid YAML: mapping values are not allowed in this context"},
		{"mapping value later", "x: 1\na: b: c\n",
			"f.yaml:2:5: invalid YAML: mapping values are not allowed in this context"},
		{"over-indented key", "x: 1\n  y: 2\n",
			"f.yaml:2:4: invalid YAML: mapping values are not allowed in this context"},
		{"character that cannot start a token, first line", "@foo: 1\n",
			"f.yaml:1:1: invalid YAML: found character that cannot start any token"},
		{"backquote", "x: 1\ny: `a`\n",
			"f.yaml:2:4: invalid YAML: found character that cannot start any token"},
		{"tab indentation", "x:\n\t- a\n",
			"f.yaml:2:1: invalid YAML: found character that cannot start any token"},
		{"unclosed flow list at the end", "x: 1\na: [1, 2\n",
			"f.yaml:2:4: invalid YAML: did not find expected ',' or ']'"},
		{"unclosed flow list before more keys", "x: 1\na: [1, 2\nb: 3\n",
			"f.yaml:2:4: invalid YAML: did not find expected ',' or ']'"},
		{"unclosed flow mapping", "x: 1\nsteps:\n  - http: {url: /a\n",
			"f.yaml:3:11: invalid YAML: did not find expected ',' or '}'"},
		{"dedented key", "x:\n  a: 1\n b: 2\n",
			"f.yaml:3:2: invalid YAML: did not find expected key"},
		{"list item in a mapping", "x: 1\n- a\n",
			"f.yaml:2:1: invalid YAML: did not find expected key"},
		{"mapping after a list", "- a\nb: 1\n",
			"f.yaml:2:1: invalid YAML: did not find expected '-' indicator"},
		{"unterminated double quote", "x: 1\ny: \"abc\n",
			"f.yaml:2:4: invalid YAML: found unexpected end of stream"},
		{"unterminated single quote", "x: 1\ny: 'abc\n",
			"f.yaml:2:4: invalid YAML: found unexpected end of stream"},
		{"unknown anchor", "x: 1\ny: [a, *nope]\n",
			"f.yaml:2:8: invalid YAML: unknown anchor 'nope' referenced"},
		{"control character", "x: 1\ny: ab\x01c\n",
			"f.yaml:2:6: invalid YAML: control characters are not allowed"},
		{"invalid UTF-8", "x: 1\ny: é\xff\n",
			"f.yaml:2:5: invalid YAML: invalid leading UTF-8 octet"},
		{"unknown directive", "%FOO\n---\na: 1\n",
			"f.yaml:1:1: invalid YAML: found unknown directive name"},
		{"unfinished second document", "kind: Suite\n---\n- [\n",
			"f.yaml:1:1: apiVersion is required (greenlight/v1)\nf.yaml:1:1: metadata.name is required\nf.yaml:1:1: suite \"\" has no steps\nf.yaml:3:1: invalid YAML: did not find expected node content"},
		{"${VAR:-default} in a flow mapping, on a later line", "vars: {\n  a: 1,\n  b: ${B:-x},\n  c: 2\n}\n",
			`f.yaml:3:6: invalid YAML: ${B:-x} in a flow mapping must be in a quoted value ("${B:-x}"): unquoted, YAML reads its { and } as the mapping's own`},
		{"${VAR} in a nested flow mapping", "steps:\n  - http: {url: /h, headers: {X-Team: ${TEAM:-shop}}}\n",
			`f.yaml:2:39: invalid YAML: ${TEAM:-shop} in a flow mapping must be in a quoted value ("${TEAM:-shop}"): unquoted, YAML reads its { and } as the mapping's own`},
		{"${VAR} in a flow sequence", "expect: [status == ${CODE:-200}]\n",
			`f.yaml:1:20: invalid YAML: ${CODE:-200} in a flow sequence must be in a quoted value ("${CODE:-200}"): unquoted, YAML reads its { and } as the sequence's own`},
		{"quoted ${VAR} is no cause", "vars: {a: \"${A:-x}\", b: [1, 2}\n",
			"f.yaml:1:25: invalid YAML: did not find expected ',' or ']'"},
		{"windows line endings", "x: 1\r\na: b: c\r\n",
			"f.yaml:2:5: invalid YAML: mapping values are not allowed in this context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src), LoadOptions{LookupEnv: noEnv})
			assert.EqualError(t, err, tc.want)
		})
	}
}
