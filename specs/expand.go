package specs

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (never in keys) of the
// document, in place, before decoding — so a plain `${PORT}` can still decode as an integer.
// `$${X}` writes a literal `${X}`. An unset variable without a default is an error at its node.
func (d *decoder) expandEnv(n *yaml.Node, lookup func(string) (string, bool)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.expandEnv(c, lookup)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.expandEnv(n.Content[i], lookup)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, missing, bad := expandString(n.Value, lookup)
		for _, m := range missing {
			d.errorf(n, "environment variable %q is not set (use ${%s:-default} to give a default)", m, m)
		}
		for _, b := range bad {
			d.errorf(n, "unterminated ${ in %q", b)
		}
		if out != n.Value {
			n.Value = out
			if n.Style == 0 {
				// Re-resolve the plain scalar's tag from its new text: "${PORT}" was a string,
				// "8080" is an integer.
				n.Tag = ""
			}
		}
	}
}

// expandString expands ${VAR} and ${VAR:-default}; it returns the names of unset variables
// without defaults and any unterminated references.
func expandString(s string, lookup func(string) (string, bool)) (out string, missing, bad []string) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			// "$${X}" → literal "${X}".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			bad = append(bad, s[i:])
			b.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if v, ok := lookup(name); ok && (v != "" || !hasDef) {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			missing = append(missing, name)
		}
		s = s[i+end+1:]
	}
	return b.String(), missing, bad
}
