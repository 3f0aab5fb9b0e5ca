package specs

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compiledSchema is a JSON Schema used by the schema("file.json") condition helper. Schemas are
// compiled at load, so a broken schema is a load error with a position, not a failing step.
type compiledSchema struct {
	s *jsonschema.Schema
}

func (c *compiledSchema) validate(_ any, body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return errors.New("body is not JSON")
	}
	if err := c.s.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(schemaPrefix.ReplaceAllString(oneLine(ve.Error()), ""))
		}
		return err
	}
	return nil
}

// schemaPrefix is the validator's "which schema file" preamble; the condition already names it.
var schemaPrefix = regexp.MustCompile(`jsonschema validation failed with '[^']*' - `)

func oneLine(s string) string {
	fields := strings.Fields(strings.ReplaceAll(s, "\n", " "))
	return truncate(strings.Join(fields, " "), 300)
}

// compileSchemas finds schema("…") calls with a literal argument and compiles each file, relative
// to the spec file's folder. A non-literal argument is an error: the schema must be known at load.
func (d *decoder) compileSchemas(n *yaml.Node, root ast.Node) map[string]*compiledSchema {
	var out map[string]*compiledSchema
	ast.Find(root, func(x ast.Node) bool {
		call, ok := x.(*ast.CallNode)
		if !ok {
			return false
		}
		id, ok := call.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "schema" {
			return false
		}
		if len(call.Arguments) != 1 {
			d.errorf(n, "schema() takes one argument: the path of a JSON Schema file")
			return false
		}
		lit, ok := call.Arguments[0].(*ast.StringNode)
		if !ok {
			d.errorf(n, "schema() needs a literal file path so the schema can be compiled at load")
			return false
		}
		if out == nil {
			out = map[string]*compiledSchema{}
		}
		if _, done := out[lit.Value]; done {
			return false
		}
		s, err := compileSchemaFile(resolvePath(d.ctx.dir(), lit.Value))
		if err != nil {
			d.errorf(n, "schema %q: %s", lit.Value, oneLine(err.Error()))
			return false
		}
		out[lit.Value] = s
		return false
	})
	return out
}

func compileSchemaFile(path string) (*compiledSchema, error) {
	b, err := ReadFileLimited(path, MaxSchemaFileSize)
	if err != nil {
		return nil, errors.New(describeFSError(err))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, errors.New("not valid JSON: " + err.Error())
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(schemaLoader{})
	if err := c.AddResource(path, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(path)
	if err != nil {
		return nil, err
	}
	return &compiledSchema{s: s}, nil
}

// schemaLoader reads the files a schema's $ref names with the same limits as the schema itself;
// the library's own loader would read any file whole, /dev/zero included.
type schemaLoader struct{}

func (schemaLoader) Load(url string) (any, error) {
	path, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, err
	}
	b, err := ReadFileLimited(path, MaxSchemaFileSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, describeFSError(err))
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}
