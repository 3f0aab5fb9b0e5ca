package specs

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// Capture takes one value from a response for later steps. Written either as an expression
// (`token: json.token`) or as one of:
//
//	{json: "data.items[0].id"}   a JSON path ($. prefix optional)
//	{header: "Location"}         a response header, case-insensitively
//	{regex: "id=(\\d+)"}         the first group (or group: N) of a regex over the body
//	{status: true}               the status code
//	{body: true}                 the whole body
type Capture struct {
	Source string
	Header string
	Regex  *regexp.Regexp
	Group  int
	Status bool
	Body   bool
	Pos    Position

	program  *vm.Program
	usesJSON bool
}

type captureForm struct {
	JSON   string `yaml:"json,omitempty"`
	Header string `yaml:"header,omitempty"`
	Regex  string `yaml:"regex,omitempty"`
	Group  *int   `yaml:"group,omitempty"`
	Status bool   `yaml:"status,omitempty"`
	Body   bool   `yaml:"body,omitempty"`
}

func (c *Capture) decodeNode(d *decoder, n *yaml.Node) {
	c.Pos = d.pos(n)
	if n.Kind == yaml.ScalarNode {
		c.Source = n.Value
		c.compile(d, n, n.Value)
		return
	}
	var f captureForm
	d.value(n, reflectValue(&f).Elem())
	set := 0
	for _, b := range []bool{f.JSON != "", f.Header != "", f.Regex != "", f.Status, f.Body} {
		if b {
			set++
		}
	}
	if set != 1 {
		d.errorf(n, "a capture takes exactly one of json, header, regex, status, body")
		return
	}
	if f.Group != nil && f.Regex == "" {
		d.errorf(n, "capture: group goes with regex")
	}
	switch {
	case f.JSON != "":
		path := strings.TrimPrefix(strings.TrimPrefix(f.JSON, "$"), ".")
		c.Source = "json." + path
		if strings.HasPrefix(path, "[") || path == "" {
			c.Source = "json" + path
		}
		c.compile(d, n, c.Source)
	case f.Header != "":
		c.Header = f.Header
		c.Source = "header(" + quote(f.Header) + ")"
	case f.Regex != "":
		re, err := regexp.Compile(f.Regex)
		if err != nil {
			d.errorf(n, "capture: invalid regex %q: %s", f.Regex, err)
			return
		}
		c.Regex, c.Group, c.Source = re, 1, "regex "+quote(f.Regex)
		if f.Group != nil {
			c.Group = *f.Group
		}
		if c.Group < 0 || c.Group > re.NumSubexp() {
			d.errorf(n, "capture: regex %q has %d groups, group %d asked", f.Regex, re.NumSubexp(), c.Group)
		}
	case f.Status:
		c.Status, c.Source = true, "status"
	case f.Body:
		c.Body, c.Source = true, "body"
	}
}

func (c *Capture) compile(d *decoder, n *yaml.Node, src string) {
	cond, err := d.compileCondition(n, src, false)
	if err == nil {
		c.program, c.usesJSON = cond.program, cond.usesJSON
	}
}

// Extract returns the captured value.
func (c *Capture) Extract(r *Response) (any, error) {
	switch {
	case c.Status:
		return r.Status, nil
	case c.Body:
		return string(r.Body), nil
	case c.Header != "":
		if _, ok := r.Headers[canonicalHeader(r, c.Header)]; !ok {
			return nil, fmt.Errorf("no header %q in the response", c.Header)
		}
		return r.Headers.Get(c.Header), nil
	case c.Regex != nil:
		m := c.Regex.FindSubmatch(r.Body)
		if m == nil {
			return nil, fmt.Errorf("regex %q does not match the body", c.Regex)
		}
		return string(m[c.Group]), nil
	case c.program != nil:
		var schemaErr string
		v, err := expr.Run(c.program, newExprEnv(r, nil, &schemaErr, c.usesJSON))
		if err != nil {
			return nil, fmt.Errorf("%s: %s", displaySource(c.Source), runtimeErr(err))
		}
		return normalizeNumber(v), nil
	}
	return nil, fmt.Errorf("capture was not compiled")
}

func canonicalHeader(r *Response, name string) string {
	for k := range r.Headers {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// normalizeNumber turns integral JSON numbers (float64) into int64, so that a captured id of 42
// renders as "42" and not "4.2e+01" in a later URL.
func normalizeNumber(v any) any {
	if f, ok := v.(float64); ok && f == float64(int64(f)) && f < 1<<53 && f > -(1<<53) {
		return int64(f)
	}
	return v
}

// MarshalYAML writes the capture in the form it was written in.
func (c Capture) MarshalYAML() (any, error) {
	switch {
	case c.Header != "":
		return map[string]string{"header": c.Header}, nil
	case c.Regex != nil:
		return map[string]any{"regex": c.Regex.String(), "group": c.Group}, nil
	case c.Status:
		return map[string]bool{"status": true}, nil
	case c.Body:
		return map[string]bool{"body": true}, nil
	}
	return c.Source, nil
}
