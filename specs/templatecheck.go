package specs

import (
	"strconv"
	"strings"
	"text/template/parse"

	"gopkg.in/yaml.v3"
)

// templateFuncArity lists the functions a template may call, with the fewest and most arguments
// each takes (-1: any number). Anything else — call, which runs a function value out of the
// data — is refused at load, and so is a call with a wrong number of arguments: each would
// fail only when a step runs, and a step that cannot run must never be blamed on the target.
var templateFuncArity = map[string][2]int{
	// text/template's built-ins.
	"and": {1, -1}, "or": {1, -1}, "not": {1, 1},
	"eq": {2, -1}, "ne": {2, 2}, "lt": {2, 2}, "le": {2, 2}, "gt": {2, 2}, "ge": {2, 2},
	"len": {1, 1}, "index": {1, -1}, "slice": {1, 4},
	"print": {0, -1}, "printf": {1, -1}, "println": {0, -1},
	"urlquery": {0, -1}, "html": {0, -1}, "js": {0, -1},
	// greenlight's (loadContext.templateFuncs).
	"secret": {1, 1}, "env": {1, 1}, "uuid": {0, 0}, "now": {0, 0}, "unixMilli": {0, 0}, "toJSON": {1, 1},
}

// maxPrintfWidth is the largest width or precision a printf verb may ask for: %999d is plenty
// for padding, %999999999d would allocate a gigabyte.
const maxPrintfWidth = 999

// checkTemplateSafe refuses at load what could only fail, or run away, when the template is
// rendered: {{ template }}, functions outside templateFuncArity or with the wrong number of
// arguments, secret and env with a name that is not a literal (a response must never choose
// which variable is sent back to it), printf formats that are not literal or pad beyond
// maxPrintfWidth, and range over a number. It returns whether the template may be kept.
func (d *decoder) checkTemplateSafe(n *yaml.Node, src string, root parse.Node) bool {
	ok := true
	fail := func(format string, args ...any) {
		if ok {
			d.errorf(n, "invalid template %q: "+format, append([]any{src}, args...)...)
		}
		ok = false
	}
	called := map[*parse.IdentifierNode]bool{}
	walkTemplate(root, func(x parse.Node) {
		switch x := x.(type) {
		case *parse.TemplateNode:
			fail("{{ template }} is not allowed: a template is one string")
		case *parse.RangeNode:
			if isNumberPipe(x.Pipe) {
				fail("range over a number is not allowed")
			}
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for i, cmd := range x.Cmds {
				id, isFunc := cmd.Args[0].(*parse.IdentifierNode)
				if !isFunc {
					continue
				}
				called[id] = true
				piped := 0
				if i > 0 {
					piped = 1 // the previous command's result is the last argument
				}
				if msg := checkTemplateCall(id.Ident, cmd.Args[1:], piped); msg != "" {
					fail("%s", msg)
				}
			}
		case *parse.IdentifierNode:
			// A function named as an argument is called with no arguments.
			if !called[x] {
				if msg := checkTemplateCall(x.Ident, nil, 0); msg != "" {
					fail("%s", msg)
				}
			}
		}
	})
	return ok
}

// checkTemplateCall checks one call of fn with the written args plus piped ones; "" means fine.
func checkTemplateCall(fn string, args []parse.Node, piped int) string {
	arity, known := templateFuncArity[fn]
	if !known {
		return "function " + strconv.Quote(fn) + " is not allowed"
	}
	got := len(args) + piped
	if got < arity[0] || arity[1] >= 0 && got > arity[1] {
		want := strconv.Itoa(arity[0])
		switch {
		case arity[1] < 0:
			want = "at least " + want
		case arity[1] != arity[0]:
			want += " to " + strconv.Itoa(arity[1])
		}
		return fn + " takes " + want + " arguments, got " + strconv.Itoa(got)
	}
	switch fn {
	case "secret", "env":
		if len(args) != 1 || piped != 0 || !isStringNode(args[0]) {
			return fn + " needs a literal name, e.g. " + fn + " `NAME`"
		}
	case "printf":
		if len(args) == 0 || !isStringNode(args[0]) {
			return "printf needs a literal format"
		}
		if !printfFormatBounded(args[0].(*parse.StringNode).Text) {
			return "printf widths and precisions must be literal numbers up to " + strconv.Itoa(maxPrintfWidth)
		}
	}
	return ""
}

func isStringNode(n parse.Node) bool {
	_, ok := n.(*parse.StringNode)
	return ok
}

// isNumberPipe reports whether a pipeline is a number literal, possibly in parentheses.
func isNumberPipe(p *parse.PipeNode) bool {
	for p != nil && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
		switch a := p.Cmds[0].Args[0].(type) {
		case *parse.NumberNode:
			return true
		case *parse.PipeNode:
			p = a
		default:
			return false
		}
	}
	return false
}

// printfFormatBounded reports whether every verb's width and precision is a literal number no
// larger than maxPrintfWidth (a '*' takes it from an argument, unbounded).
func printfFormatBounded(f string) bool {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
	verb:
		for i < len(f) {
			c := f[i]
			switch {
			case c == '*':
				return false
			case c >= '0' && c <= '9':
				j := i
				for j < len(f) && f[j] >= '0' && f[j] <= '9' {
					j++
				}
				if v, err := strconv.Atoi(f[i:j]); err != nil || v > maxPrintfWidth {
					return false
				}
				i = j
				continue
			case c == '.' || c == '[' || c == ']':
				i++
				continue
			}
			break verb
		}
	}
	return true
}

// checkHeaderValues refuses header values holding a line break, which would split the header:
// literal ones, and templates that render one from what is known at load (vars, environment
// variables, secrets). A capture's value is known only when the step runs; the templates are
// marked as header values so that Render refuses a line break then. where names the headers'
// owner in messages ("step \"login\"", "defaults").
func (d *decoder) checkHeaderValues(where string, headers map[string]Template) {
	for _, name := range sortedNames(headers) {
		t := headers[name]
		if t.IsLiteral() {
			if strings.ContainsAny(t.Source, "\r\n") {
				d.errs.add(t.pos, "%s: header %q: the value contains a line break (CR or LF)", where, name)
			}
		} else if out, err := t.render(d.trialData()); err == nil && strings.ContainsAny(out, "\r\n") {
			d.errs.add(t.pos, "%s: header %q: the value renders with a line break (CR or LF) from vars, an environment variable or a secret", where, name)
		}
		t.header = true
		headers[name] = t
	}
}

// trialData is what a template can be rendered against at load: the vars, and every capture
// empty. Rendering it shows what a template makes of what is already known.
func (d *decoder) trialData() *TemplateData {
	captures := make(map[string]any, len(d.ctx.captures))
	for name := range d.ctx.captures {
		captures[name] = ""
	}
	return &TemplateData{Vars: d.ctx.vars, Captures: captures, Env: EnvData{Labels: map[string]string{}}}
}

// checkLiteralHeaders refuses line breaks in headers that are plain strings (an environment's,
// a source's).
func (d *decoder) checkLiteralHeaders(pos Position, where string, headers map[string]string) {
	for _, name := range sortedNames(headers) {
		if !validHeaderName(name) {
			d.errs.add(pos, "%s: invalid header name %q", where, name)
		}
		if strings.ContainsAny(headers[name], "\r\n") {
			d.errs.add(pos, "%s: header %q: the value contains a line break (CR or LF)", where, name)
		}
	}
}
