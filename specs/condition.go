package specs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// Condition is an expr-lang expression over a response, compiled once at load. It sees:
//
//	status     int            the HTTP status code
//	headers    map            first value of each header, canonical names ("Content-Type")
//	body       string         the response body
//	json       any            the body parsed as JSON (null if it is not JSON)
//	duration   duration       time to the full response; compare with literals: duration < 300ms
//	vars, captures, env       as in templates
//	header("name")            a header, case-insensitively ("" when absent)
//	schema("file.json")       whether the body validates against a JSON Schema file
//
// Field access on json is strict: json.token fails with a clear error when the body has no
// "token" field, so `json.token != ""` cannot pass on a response that lacks it. Write json?.token
// to allow absence.
type Condition struct {
	Source   string
	program  *vm.Program
	explain  *explainNode
	schemas  map[string]*compiledSchema
	usesJSON bool // the body is parsed only when some condition or capture reads it
}

// Response is what conditions and captures evaluate against.
type Response struct {
	Status   int
	Headers  http.Header
	Body     []byte
	JSON     any // nil when the body is not JSON; set by the executor, or parsed on first use
	Duration time.Duration
	Vars     map[string]string
	Captures map[string]any
	Env      EnvData
	// Redact, when set, is applied to every value shown in a failed condition's detail before
	// it is quoted or truncated — after that a secret could no longer be recognised.
	Redact func(string) string

	jsonDone bool
	env      *exprEnv
}

// ParsedJSON returns the body as JSON, parsing it on first use (nil when it is not JSON).
func (r *Response) ParsedJSON() any {
	if !r.jsonDone {
		r.jsonDone = true
		if r.JSON == nil {
			r.JSON = parseJSON(r.Body)
		}
	}
	return r.JSON
}

// parseJSON returns body as JSON when it is JSON, else nil. Numbers are float64, as expr
// compares them naturally with literals.
func parseJSON(body []byte) any {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || !strings.ContainsRune(`{["tfn-0123456789`, rune(t[0])) {
		return nil
	}
	var v any
	if err := json.Unmarshal(t, &v); err != nil {
		return nil
	}
	return v
}

// exprEnv is what compiled programs see. A struct (not a map) so that the checker knows json
// is of type any even when the prototype's value is nil.
type exprEnv struct {
	Status   int                 `expr:"status"`
	Headers  map[string]string   `expr:"headers"`
	Body     string              `expr:"body"`
	JSON     any                 `expr:"json"`
	Duration time.Duration       `expr:"duration"`
	Vars     map[string]string   `expr:"vars"`
	Captures map[string]any      `expr:"captures"`
	Env      map[string]any      `expr:"env"`
	Header   func(string) string `expr:"header"`
	Schema   func(string) bool   `expr:"schema"`

	redact    func(string) string
	schemas   map[string]*compiledSchema
	schemaErr *string
}

// newExprEnv returns the environment of a response, built once and shared by every condition
// and capture of the step; what differs per condition (its schemas, where a schema failure is
// reported, whether the body must be parsed) is set on each call.
func newExprEnv(r *Response, schemas map[string]*compiledSchema, schemaErr *string, needJSON bool) *exprEnv {
	if r.env == nil {
		headers := make(map[string]string, len(r.Headers))
		for k, v := range r.Headers {
			if len(v) > 0 {
				headers[k] = v[0]
			}
		}
		e := &exprEnv{
			Status:   r.Status,
			Headers:  headers,
			Body:     string(r.Body),
			Duration: r.Duration,
			Vars:     r.Vars,
			Captures: r.Captures,
			Env:      map[string]any{"name": r.Env.Name, "url": r.Env.URL, "labels": r.Env.Labels},
			Header:   func(name string) string { return r.Headers.Get(name) },
			redact:   r.Redact,
		}
		e.Schema = func(name string) bool {
			s, ok := e.schemas[name]
			if !ok {
				*e.schemaErr = fmt.Sprintf("schema %q was not compiled", name)
				return false
			}
			if err := s.validate(r.ParsedJSON(), r.Body); err != nil {
				*e.schemaErr = err.Error()
				return false
			}
			return true
		}
		r.env = e
	}
	if needJSON {
		r.env.JSON = r.ParsedJSON()
	}
	r.env.schemas, r.env.schemaErr = schemas, schemaErr
	return r.env
}

func exprOptions(extra ...expr.Option) []expr.Option {
	opts := []expr.Option{
		expr.Env(&exprEnv{}),
		expr.DisableBuiltin("duration"), // "duration" is the response time here
		expr.Function("_dur", func(p ...any) (any, error) { return time.ParseDuration(p[0].(string)) },
			new(func(string) time.Duration)),
		expr.Function("_field", strictField),
		expr.Patch(strictJSON{}),
	}
	return append(opts, extra...)
}

// Eval reports whether the condition holds for r and, when it does not, the resolved values that
// explain why ("status (500) == 200").
func (c *Condition) Eval(r *Response) (ok bool, detail string) {
	var schemaErr string
	out, err := expr.Run(c.program, newExprEnv(r, c.schemas, &schemaErr, c.usesJSON))
	if err != nil {
		return false, fmt.Sprintf("%s: %s", displaySource(c.Source), runtimeErr(err))
	}
	if b, _ := out.(bool); b {
		return true, ""
	}
	d := c.explain.explain(newExprEnv(r, c.schemas, &schemaErr, c.usesJSON))
	if schemaErr != "" {
		d += ": " + schemaErr
	}
	return false, d
}

func (c Condition) MarshalYAML() (any, error) { return c.Source, nil }
func (c Condition) String() string            { return c.Source }

func (c *Condition) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "an expression")
	if !ok {
		return
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(n, "empty expression")
		return
	}
	cond, err := d.compileCondition(n, s, true)
	if err != nil {
		return
	}
	*c = *cond
}

// compiled is the part of a condition that depends only on its source: shared by every
// condition with the same text (a suite often repeats "status == 200" dozens of times), and
// immutable once built, so safe to share across goroutines.
type compiled struct {
	program *vm.Program
	explain *explainNode
}

var compileCache sync.Map // cacheKey → *compiled

type cacheKey struct {
	src    string
	asBool bool
}

// compileCondition compiles s; on error it reports at the expression's own line and column.
// asBool says whether the expression must be a boolean (a condition) or any value (a capture).
func (d *decoder) compileCondition(n *yaml.Node, s string, asBool bool) (*Condition, error) {
	if err := exprBounded(s); err != nil {
		d.errorf(n, "invalid expression %q: %s", truncate(s, 80), err)
		return nil, err
	}
	src, back := rewriteDurations(s)
	c := &Condition{Source: s}
	tree, err := parser.Parse(src)
	if err != nil {
		d.exprError(n, s, err, back)
		return nil, err
	}
	c.schemas = d.compileSchemas(n, tree.Node)
	c.usesJSON = usesJSON(tree.Node)
	key := cacheKey{src, asBool}
	if hit, ok := compileCache.Load(key); ok {
		c.program, c.explain = hit.(*compiled).program, hit.(*compiled).explain
		return c, nil
	}
	kind := expr.AsAny()
	if asBool {
		kind = expr.AsBool()
	}
	c.program, err = expr.Compile(src, exprOptions(kind)...)
	if err != nil {
		d.exprError(n, s, err, back)
		return nil, err
	}
	c.explain = buildExplain(tree.Node)
	compileCache.Store(key, &compiled{program: c.program, explain: c.explain})
	return c, nil
}

// Limits on a condition's text. The expression parser recurses once per nesting level and per
// prefix operator, and a few megabytes of "(" would overflow its stack; real conditions are a
// line long.
const (
	MaxExpressionLength = 4096
	MaxExpressionDepth  = 64
)

// exprBounded checks an expression's length and its nesting of brackets and prefix operators.
func exprBounded(s string) error {
	if len(s) > MaxExpressionLength {
		return fmt.Errorf("longer than %d characters", MaxExpressionLength)
	}
	depth, prefix := 0, 0
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			continue
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			depth++
		case r == ')' || r == ']' || r == '}':
			depth--
		}
		if r == '!' || r == '-' || r == '+' {
			prefix++
		} else if r != ' ' {
			prefix = 0
		}
		if depth > MaxExpressionDepth || prefix > MaxExpressionDepth {
			return fmt.Errorf("nested deeper than %d levels", MaxExpressionDepth)
		}
	}
	return nil
}

func (d *decoder) exprError(n *yaml.Node, s string, err error, back func(int) int) {
	msg := err.Error()
	pos := d.pos(n)
	if fe, ok := err.(*file.Error); ok {
		msg = fe.Message
		if n.Line > 0 && !strings.Contains(s, "\n") && (n.Style == 0 || n.Style == yaml.SingleQuotedStyle || n.Style == yaml.DoubleQuotedStyle) {
			pos.Column += back(fe.From)
			if n.Style != 0 {
				pos.Column++ // the opening quote
			}
		}
	}
	d.errs.add(pos, "invalid expression %q: %s", s, msg)
}

func runtimeErr(err error) string {
	if fe, ok := err.(*file.Error); ok {
		return fe.Message
	}
	s := err.Error()
	if i := strings.Index(s, " (1:"); i > 0 {
		s = s[:i]
	}
	return s
}

// usesJSON reports whether an expression reads the parsed body.
func usesJSON(n ast.Node) bool {
	return ast.Find(n, func(x ast.Node) bool {
		id, ok := x.(*ast.IdentifierNode)
		return ok && id.Value == "json"
	}) != nil
}

// durationLiteral matches Go duration text such as 300ms, 1.5s, 1m30s at a token boundary.
var durationLiteral = regexp.MustCompile(`^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|h|m|s))+`)

// rewriteDurations turns duration literals into _dur("300ms") calls outside string literals, and
// returns a function mapping a rune offset in the result back to one in s (for error columns).
func rewriteDurations(s string) (string, func(int) int) {
	var b strings.Builder
	type shift struct{ at, delta int } // from rune offset `at` in the output, subtract delta
	var shifts []shift
	outRunes, delta := 0, 0
	var quote rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case quote != 0:
			if r == '\\' && quote != '`' && i+size < len(s) {
				_, size2 := utf8.DecodeRuneInString(s[i+size:])
				b.WriteString(s[i : i+size+size2])
				i += size + size2
				outRunes += 2
				continue
			}
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r >= '0' && r <= '9' && (i == 0 || !isIdentByte(s[i-1])):
			if m := durationLiteral.FindString(s[i:]); m != "" && (i+len(m) == len(s) || !isIdentByte(s[i+len(m)])) && strings.ContainsAny(m, "nuµmhs") {
				lit := `_dur("` + m + `")`
				b.WriteString(lit)
				added := utf8.RuneCountInString(lit) - utf8.RuneCountInString(m)
				outRunes += utf8.RuneCountInString(lit)
				delta += added
				shifts = append(shifts, shift{outRunes, delta})
				i += len(m)
				continue
			}
		}
		b.WriteString(s[i : i+size])
		i += size
		outRunes++
	}
	back := func(off int) int {
		d := 0
		for _, sh := range shifts {
			if off >= sh.at {
				d = sh.delta
			}
		}
		return off - d
	}
	return b.String(), back
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var durCall = regexp.MustCompile(`_dur\("([^"]*)"\)`)

// displaySource shows an expression as the user wrote it, without internal rewrites.
func displaySource(s string) string {
	s = durCall.ReplaceAllString(s, "$1")
	return strings.ReplaceAll(s, "_field(", "(")
}

// strictJSON rewrites member access rooted at `json` into _field calls, which fail on a missing
// field instead of yielding nil. Optional access (json?.x) keeps expr's lenient behaviour.
type strictJSON struct{}

func (strictJSON) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || !rootedAtJSON(m.Node) {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: "_field"},
		Arguments: []ast.Node{m.Node, m.Property},
	})
}

func rootedAtJSON(n ast.Node) bool {
	for {
		switch x := n.(type) {
		case *ast.IdentifierNode:
			return x.Value == "json"
		case *ast.MemberNode:
			if x.Optional {
				return false
			}
			n = x.Node
		case *ast.CallNode:
			id, ok := x.Callee.(*ast.IdentifierNode)
			if !ok || id.Value != "_field" || len(x.Arguments) == 0 {
				return false
			}
			n = x.Arguments[0]
		default:
			return false
		}
	}
}

func strictField(p ...any) (any, error) {
	obj, key := p[0], p[1]
	switch o := obj.(type) {
	case map[string]any:
		k, ok := key.(string)
		if !ok {
			return nil, fmt.Errorf("cannot index a JSON object with %v", key)
		}
		v, ok := o[k]
		if !ok {
			return nil, fmt.Errorf("JSON has no field %q", k)
		}
		return v, nil
	case []any:
		i, ok := key.(int)
		if !ok {
			return nil, fmt.Errorf("cannot index a JSON array with %v", key)
		}
		if i < 0 {
			i += len(o)
		}
		if i < 0 || i >= len(o) {
			return nil, fmt.Errorf("JSON array index %d out of range (length %d)", i, len(o))
		}
		return o[i], nil
	case nil:
		return nil, fmt.Errorf("cannot read field %v of null (is the body JSON?)", key)
	}
	return nil, fmt.Errorf("cannot read field %v of a %T", key, obj)
}
