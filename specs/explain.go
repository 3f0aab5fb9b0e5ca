package specs

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// explainNode mirrors the shape of a condition so that a failure can be explained with resolved
// values, Gatus-style: `status (500) == 200`, `json.username ("bob") == "testuser"`. Sub-programs
// are compiled at load with the condition; they run only when the condition has failed.
type explainNode struct {
	op          string // "&&", "||", "!", a comparison operator, or "" for anything else
	src         string // as displayed
	code        string // as compiled
	left, right *explainNode
	literal     bool

	// Sub-programs are compiled on the first failure that needs them: most conditions never
	// fail, and compiling every sub-expression up front tripled load time.
	once sync.Once
	prog *vm.Program
}

var comparisonOps = map[string]bool{
	"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
	"in": true, "not in": true, "matches": true, "contains": true, "startsWith": true, "endsWith": true,
}

func buildExplain(n ast.Node) *explainNode {
	e := &explainNode{src: displaySource(n.String())}
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch {
		case x.Operator == "&&" || x.Operator == "and":
			e.op, e.left, e.right = "&&", buildExplain(x.Left), buildExplain(x.Right)
		case x.Operator == "||" || x.Operator == "or":
			e.op, e.left, e.right = "||", buildExplain(x.Left), buildExplain(x.Right)
		case comparisonOps[x.Operator]:
			e.op, e.left, e.right = x.Operator, buildExplain(x.Left), buildExplain(x.Right)
		}
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			e.op, e.left = "!", buildExplain(x.Node)
		}
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		e.literal = true
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == "_dur" {
			e.literal = true
		}
	}
	if !e.literal {
		e.code = n.String()
	}
	return e
}

func (e *explainNode) eval(env *exprEnv) (any, error) {
	e.once.Do(func() {
		if e.code != "" {
			// A sub-expression that does not compile on its own is explained by its source alone.
			e.prog, _ = expr.Compile(e.code, exprOptions()...)
		}
	})
	if e.prog == nil {
		return nil, fmt.Errorf("not evaluable")
	}
	return expr.Run(e.prog, env)
}

// explain says why this node evaluated to false.
func (e *explainNode) explain(env *exprEnv) string {
	switch e.op {
	case "&&":
		if v, err := e.left.eval(env); err != nil || v != true {
			return e.left.explain(env)
		}
		return e.right.explain(env)
	case "||":
		return e.left.explain(env) + " and " + e.right.explain(env)
	case "!":
		return fmt.Sprintf("not %s", e.left.resolved(env))
	case "":
		return e.resolved(env)
	}
	return fmt.Sprintf("%s %s %s", e.left.resolved(env), e.op, e.right.resolved(env))
}

// resolved prints the node's source followed by its value: `status (500)`; literals print as is.
func (e *explainNode) resolved(env *exprEnv) string {
	if e.literal {
		return e.src
	}
	v, err := e.eval(env)
	if err != nil {
		return fmt.Sprintf("%s (error: %s)", e.src, runtimeErr(err))
	}
	return fmt.Sprintf("%s (%s)", e.src, formatValue(v, env.redact))
}

// formatValue shows a value in a detail. Secrets are redacted first: once a value is quoted or
// cut, a secret in it no longer matches the redactor.
func formatValue(v any, redact func(string) string) string {
	const max = 120
	if redact == nil {
		redact = func(s string) string { return s }
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", truncate(redact(x), max))
	case time.Duration:
		return x.String()
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return truncate(redact(string(b)), max)
	}
	return redact(fmt.Sprint(v))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
