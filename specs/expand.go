package specs

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (never in keys) of the
// document, in place, before decoding — so a plain `${PORT}` can still decode as an integer.
// `$${X}` writes a literal `${X}`. An unset variable without a default is an error at its node.
// Values put into headers often are credentials (Authorization: Bearer ${TOKEN}): they are
// remembered so that no load error quotes them.
func (d *decoder) expandEnv(n *yaml.Node, lookup func(string) (string, bool)) {
	d.envBudget = MaxSpecFileSize
	d.expandEnvIn(n, lookup, false)
}

func (d *decoder) expandEnvIn(n *yaml.Node, lookup func(string) (string, bool), sensitive bool) {
	if d.envBudget < 0 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.expandEnvIn(c, lookup, sensitive)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.expandEnvIn(n.Content[i], lookup, sensitive || n.Content[i-1].Value == "headers")
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, used, missing, bad, over := expandString(n.Value, lookup, d.envBudget)
		if over {
			d.errorf(n, "${VAR} expansion makes the document's values larger than %s", formatSize(MaxSpecFileSize))
			d.envBudget = -1 // one error is enough
			return
		}
		d.envBudget -= len(out)
		for _, m := range missing {
			d.errorf(n, "environment variable %q is not set (use ${%s:-default} to give a default)", m, m)
		}
		for _, b := range bad {
			d.errorf(n, "unterminated ${ in %q", b)
		}
		if sensitive {
			d.sensitive = append(d.sensitive, used...)
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

// expandString expands ${VAR} and ${VAR:-default}; it returns the values taken from the
// environment, the names of unset variables without defaults and any unterminated references.
// It stops, with over set, once the result would exceed limit bytes: a few bytes of ${A}${A}…
// must not become gigabytes.
func expandString(s string, lookup func(string) (string, bool), limit int) (out string, used, missing, bad []string, over bool) {
	var b strings.Builder
	for {
		if b.Len() > limit {
			return "", used, missing, bad, true
		}
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
			used = append(used, v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			missing = append(missing, name)
		}
		s = s[i+end+1:]
	}
	if b.Len() > limit {
		return "", used, missing, bad, true
	}
	return b.String(), used, missing, bad, false
}
