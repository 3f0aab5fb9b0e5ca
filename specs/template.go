package specs

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/greenlight/greenlight/secret"
)

// Template is a string that may hold Go text/template actions, compiled once at load. Strings
// without "{{" stay literals and cost nothing to render.
//
// The data a template sees:
//
//	.vars.NAME          suite variables (overridable with --var)
//	.captures.NAME      values captured by earlier steps; .NAME is a shorthand
//	.env.name, .env.url, .env.labels.KEY   the environment the step runs on
//	secret "NAME"       a declared secret (or, if undeclared, the environment variable NAME)
//	env "NAME"          an environment variable
//	uuid, now, unixMilli, toJSON, urlquery   helpers
type Template struct {
	Source string
	tmpl   *template.Template
	pos    Position
	// header: the template is a header value, whose rendering must hold no line break.
	header bool
}

// TemplateData is what a template renders against.
type TemplateData struct {
	Vars     map[string]string
	Captures map[string]any
	Env      EnvData
}

// EnvData describes the environment a step runs on.
type EnvData struct {
	Name   string
	URL    string
	Labels map[string]string
}

// IsZero reports whether the template was not written at all.
func (t Template) IsZero() bool { return t.Source == "" && t.tmpl == nil }

// IsLiteral reports whether rendering returns Source unchanged.
func (t Template) IsLiteral() bool { return t.tmpl == nil }

func (t Template) String() string               { return t.Source }
func (t Template) MarshalYAML() (any, error)    { return t.Source, nil }
func (t Template) MarshalJSON() ([]byte, error) { return json.Marshal(t.Source) }

// MaxTemplateOutput is the most a template may render (10 MiB): a template looping over a
// captured list inside another such loop fails instead of filling the memory.
const MaxTemplateOutput = 10 << 20

// ErrHeaderLineBreak is the error of a header value rendered with a CR or LF (from a capture:
// anything else is refused at load). The value is the spec's to make safe, not the target's
// fault, and sending it would split the header.
var ErrHeaderLineBreak = errors.New("header value contains a line break (CR or LF)")

// Render executes the template. Literals return their source.
func (t Template) Render(data *TemplateData) (string, error) {
	if t.tmpl == nil {
		return t.Source, nil
	}
	out, err := t.render(data)
	if err != nil {
		return "", err
	}
	if t.header && strings.ContainsAny(out, "\r\n") {
		return "", fmt.Errorf("template %q: %w", t.Source, ErrHeaderLineBreak)
	}
	return out, nil
}

func (t Template) render(data *TemplateData) (string, error) {
	m := make(map[string]any, len(data.Captures)+3)
	for k, v := range data.Captures {
		m[k] = v
	}
	m["vars"] = data.Vars
	m["captures"] = data.Captures
	m["env"] = map[string]any{"name": data.Env.Name, "url": data.Env.URL, "labels": data.Env.Labels}
	b := &limitedBuilder{max: MaxTemplateOutput}
	if err := t.tmpl.Execute(b, m); err != nil {
		if errors.Is(err, errTemplateTooLarge) {
			return "", fmt.Errorf("template %q: %w", t.Source, errTemplateTooLarge)
		}
		return "", fmt.Errorf("template %q: %s", t.Source, cleanTemplateErr(err))
	}
	return b.String(), nil
}

var errTemplateTooLarge = fmt.Errorf("renders more than %s", formatSize(MaxTemplateOutput))

// limitedBuilder is a strings.Builder that refuses to grow past max; the template stops at
// the first refused write.
type limitedBuilder struct {
	strings.Builder
	max int
}

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTemplateTooLarge
	}
	return b.Builder.Write(p)
}

// reserved names at the top of the template data; anything else is a capture shorthand.
var reservedData = map[string]bool{"vars": true, "captures": true, "env": true}

func (t *Template) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a string")
	if !ok {
		return
	}
	if isNull(n) {
		return
	}
	*t = d.compileTemplate(n, s)
}

// compileTemplate parses s, checks what it references against what is in scope, and reports
// problems at n.
func (d *decoder) compileTemplate(n *yaml.Node, s string) Template {
	if !strings.Contains(s, "{{") {
		return Template{Source: s, pos: d.pos(n)}
	}
	tm, err := template.New("t").Option("missingkey=error").Funcs(d.ctx.templateFuncs()).Parse(s)
	if err != nil {
		d.errorf(n, "invalid template %q: %s", s, cleanTemplateErr(err))
		return Template{Source: s, pos: d.pos(n)}
	}
	if len(tm.Templates()) > 1 {
		d.errorf(n, "invalid template %q: {{ define }} and {{ block }} are not allowed: a template is one string", s)
		return Template{Source: s, pos: d.pos(n)}
	}
	if !d.checkTemplateSafe(n, s, tm.Tree.Root) {
		return Template{Source: s, pos: d.pos(n)}
	}
	d.checkTemplateRefs(n, tm.Tree.Root)
	return Template{Source: s, tmpl: tm, pos: d.pos(n)}
}

var templateErrPrefix = regexp.MustCompile(`^template: t:\d+(:\d+)?: (executing "t" at <[^>]*>: )?`)

func cleanTemplateErr(err error) string {
	return templateErrPrefix.ReplaceAllString(err.Error(), "")
}

// checkTemplateRefs walks the parse tree: captures must be defined by an earlier step, vars must
// be declared (or given with --var), and literal secret/env names must resolve.
func (d *decoder) checkTemplateRefs(n *yaml.Node, root parse.Node) {
	walkTemplate(root, func(x parse.Node) {
		switch x := x.(type) {
		case *parse.FieldNode:
			d.checkFieldRef(n, x.Ident)
		case *parse.VariableNode:
			if len(x.Ident) > 1 && x.Ident[0] == "$" {
				d.checkFieldRef(n, x.Ident[1:])
			}
		case *parse.CommandNode:
			if len(x.Args) == 2 {
				id, ok1 := x.Args[0].(*parse.IdentifierNode)
				str, ok2 := x.Args[1].(*parse.StringNode)
				if ok1 && ok2 {
					d.checkFuncRef(n, id.Ident, str.Text)
				}
			}
		}
	})
}

func (d *decoder) checkFieldRef(n *yaml.Node, ident []string) {
	if d.ctx == nil || len(ident) == 0 {
		return
	}
	switch ident[0] {
	case "captures":
		if len(ident) > 1 && !d.ctx.captures[ident[1]] {
			d.errorf(n, "capture %q is used before it is defined (captures come from earlier steps)", ident[1])
		}
	case "vars":
		if len(ident) > 1 && !d.ctx.hasVar(ident[1]) {
			d.errorf(n, "variable %q is not defined in vars (nor given with --var)", ident[1])
		} else if len(ident) > 2 {
			d.errorf(n, "vars.%s is a string: it has no field %s", ident[1], ident[2])
		}
	case "env":
		switch {
		case len(ident) > 1 && ident[1] != "name" && ident[1] != "url" && ident[1] != "labels":
			d.errorf(n, "unknown field env.%s (have env.name, env.url, env.labels)", ident[1])
		case len(ident) > 2 && ident[1] != "labels", len(ident) > 3:
			d.errorf(n, "%s is a string: it has no field %s", strings.Join(ident[:len(ident)-1], "."), ident[len(ident)-1])
		}
	default:
		if !d.ctx.captures[ident[0]] {
			d.errorf(n, "capture %q is used before it is defined (captures come from earlier steps)", ident[0])
		}
	}
}

func (d *decoder) checkFuncRef(n *yaml.Node, fn, arg string) {
	if d.ctx == nil {
		return
	}
	switch fn {
	case "secret":
		if _, declared := d.ctx.secretRefs[arg]; declared {
			return
		}
		switch v, ok := d.ctx.lookup(arg); {
		case !ok:
			d.secretProblem(d.pos(n), true, "secret %q is not declared in secrets and no environment variable %s is set", arg, arg)
		case v == "":
			d.secretProblem(d.pos(n), true, "secret %q is not declared in secrets and environment variable %s is set but empty", arg, arg)
		case len(v) < secret.MinLength:
			d.secretProblem(d.pos(n), false, "secret %q: %s", arg, tooShort("environment variable "+arg, len(v)))
		default:
			d.ctx.envSecrets[arg] = Secret(v)
		}
	case "env":
		if _, ok := d.ctx.lookup(arg); !ok {
			d.errorf(n, "environment variable %q is not set", arg)
		}
	}
}

func walkTemplate(n parse.Node, f func(parse.Node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkTemplate(c, f)
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkTemplate(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, f)
		}
	case *parse.ChainNode:
		walkTemplate(n.Node, f)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, f)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, f)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, f)
	case *parse.TemplateNode:
		walkTemplate(n.Pipe, f)
	}
}

func walkBranch(b *parse.BranchNode, f func(parse.Node)) {
	walkTemplate(b.Pipe, f)
	if b.List != nil {
		walkTemplate(b.List, f)
	}
	if b.ElseList != nil {
		walkTemplate(b.ElseList, f)
	}
}

// templateFuncs are bound per suite: secret resolves against the suite's declared secrets.
func (c *loadContext) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"secret": func(name string) (string, error) {
			if s, ok := c.secrets[name]; ok {
				return s.Reveal(), nil
			}
			if s, ok := c.envSecrets[name]; ok {
				return s.Reveal(), nil
			}
			return "", fmt.Errorf("secret %q is not available", name)
		},
		"env": func(name string) (string, error) {
			v, ok := c.lookup(name)
			if !ok {
				return "", fmt.Errorf("environment variable %q is not set", name)
			}
			return v, nil
		},
		"uuid":      newUUID,
		"now":       func() string { return time.Now().UTC().Format(time.RFC3339) },
		"unixMilli": func() int64 { return time.Now().UnixMilli() },
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
