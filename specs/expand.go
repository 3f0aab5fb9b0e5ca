package specs

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (never in keys) of the
// document, in place, before decoding — so a plain `${PORT}` can still decode as an integer.
// `$${X}` writes a literal `${X}`. An unset variable without a default is an error at its node.
//
// On the way it collects the secrets the document's text reveals (see collectSecrets). The
// expanded values are budgeted: a few bytes of ${A}${A}… must not become gigabytes.
func (d *decoder) expandEnv(n *yaml.Node, lookup func(string) (string, bool)) {
	d.envBudget = MaxSpecFileSize
	d.expandNode(n, lookup, "", false)
}

// expandNode expands n. headers says n is a headers mapping; header is the header's name when n
// is a value in one.
func (d *decoder) expandNode(n *yaml.Node, lookup func(string) (string, bool), header string, headers bool) {
	if d.envBudget < 0 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.expandNode(c, lookup, "", false)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if key := n.Content[i-1].Value; headers {
				d.expandNode(n.Content[i], lookup, key, false)
			} else {
				d.expandNode(n.Content[i], lookup, "", key == "headers")
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			d.collectSecrets(n.Value, header, nil)
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
		if out != n.Value {
			n.Value = out
			if n.Style == 0 {
				// Re-resolve the plain scalar's tag from its new text: "${PORT}" was a string,
				// "8080" is an integer.
				n.Tag = ""
			}
		}
		d.collectSecrets(out, header, used)
	}
}

// collectSecrets registers what a scalar reveals: the password of a URL's userinfo; the value
// of a header whose name says it is a credential (Authorization, Cookie, *token* …); and a
// header value that came from ${ENV} expansion, whole and each variable's value, as an
// environment-supplied header (Authorization: "Bearer ${TOKEN}") is a credential. Templates
// are left alone: the secrets they read are registered where they are declared.
func (d *decoder) collectSecrets(value, header string, used []string) {
	if d.ctx == nil {
		return
	}
	found := func(s string) {
		// A header any name may carry (X-Tenant: ${TENANT}) is inferred to be a secret only
		// from 4 bytes on: blanking every "1" or "eu" in a report would hide the report, not
		// a credential. Credential-named headers have no minimum of their own; the redactor
		// still ignores any value under secret.MinLength (4 bytes).
		if len(s) >= minInferredSecret || IsSecretHeader(header) {
			d.ctx.found = append(d.ctx.found, Secret(s))
		}
	}
	if header != "" {
		for _, u := range used {
			found(u)
		}
	}
	if strings.Contains(value, "{{") {
		return
	}
	if strings.Contains(value, "://") && strings.Contains(value, "@") {
		d.ctx.found = append(d.ctx.found, URLSecrets(value)...)
	}
	if header != "" {
		d.ctx.found = append(d.ctx.found, HeaderSecrets(header, value)...)
		if len(used) > 0 {
			found(value)
		}
	}
}

// minInferredSecret is the shortest ${ENV} value in a header not named as a credential that is
// taken for a secret.
const minInferredSecret = 4

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
