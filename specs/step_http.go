package specs

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// HTTPStep is one HTTP request.
type HTTPStep struct {
	Method          string              `yaml:"method,omitempty" doc:"HTTP method (default GET)."`
	URL             Template            `yaml:"url,omitempty" doc:"Path relative to the environment's base URL (/api/orders), or an absolute URL."`
	Query           map[string]Template `yaml:"query,omitempty" doc:"Query parameters, added to any in url."`
	Headers         map[string]Template `yaml:"headers,omitempty" doc:"Request headers; templates allowed."`
	Body            *Template           `yaml:"body,omitempty" doc:"Raw request body (a template)."`
	JSON            *JSONBody           `yaml:"json,omitempty" doc:"Request body as YAML turned into JSON; strings may be templates. Sets Content-Type: application/json."`
	Form            map[string]Template `yaml:"form,omitempty" doc:"URL-encoded form body. Sets Content-Type: application/x-www-form-urlencoded."`
	FollowRedirects *bool               `yaml:"followRedirects,omitempty" doc:"Overrides defaults.followRedirects."`
	MaxRedirects    *int                `yaml:"maxRedirects,omitempty" doc:"Overrides defaults.maxRedirects."`
	TLS             *TLS                `yaml:"tls,omitempty" doc:"Overrides defaults.tls."`
	MaxBodySize     ByteSize            `yaml:"maxBodySize,omitempty" doc:"Overrides defaults.maxBodySize."`
	Pos             Position            `yaml:"-"`
}

var httpMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func (h *HTTPStep) validate(d *decoder, s *Step) {
	if h.Method == "" {
		h.Method = http.MethodGet
	}
	if !httpMethods[h.Method] {
		d.errs.add(h.Pos, "step %q: unknown HTTP method %q (use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)", s.Name, h.Method)
	}
	if h.URL.IsZero() {
		if !d.meant(h.Pos, "url") {
			d.errs.add(h.Pos, "step %q: http.url is required", s.Name)
		}
	} else if h.URL.IsLiteral() && !strings.Contains(h.URL.Source, "{{") { // "{{": a template that did not compile, already reported
		if _, err := url.Parse(h.URL.Source); err != nil {
			d.errs.add(h.Pos, "step %q: invalid url %s: %s", s.Name, quoteURL(h.URL.Source), urlParseReason(err))
		}
	}
	bodies := 0
	for _, set := range []bool{h.Body != nil, h.JSON != nil, h.Form != nil} {
		if set {
			bodies++
		}
	}
	if bodies > 1 {
		d.errs.add(h.Pos, "step %q: use only one of body, json and form", s.Name)
	}
	for _, name := range sortedNames(h.Headers) {
		if !validHeaderName(name) {
			d.errs.add(h.Pos, "step %q: invalid header name %q", s.Name, name)
		}
	}
	d.checkHeaderValues(fmt.Sprintf("step %q", s.Name), h.Headers)
	if h.MaxRedirects != nil && *h.MaxRedirects < 0 {
		d.errs.add(h.Pos, "step %q: maxRedirects must not be negative", s.Name)
	}
	if h.TLS != nil {
		h.TLS.validate(d)
	}
}

func (h *HTTPStep) applyDefaults(df *Defaults) {
	if h.FollowRedirects == nil {
		h.FollowRedirects = df.FollowRedirects
	}
	if h.MaxRedirects == nil {
		h.MaxRedirects = df.MaxRedirects
	}
	if h.TLS == nil {
		h.TLS = df.TLS
	}
	if h.MaxBodySize == 0 {
		h.MaxBodySize = df.MaxBodySize
	}
	if len(df.Headers) > 0 {
		merged := make(map[string]Template, len(df.Headers)+len(h.Headers))
		for k, v := range df.Headers {
			merged[k] = v
		}
		for k, v := range h.Headers {
			// A step's header replaces the default whatever the case it is written in.
			for dk := range merged {
				if strings.EqualFold(dk, k) {
					delete(merged, dk)
				}
			}
			merged[k] = v
		}
		h.Headers = merged
	}
}

// quoteURL quotes a URL for a message with its user information masked: a URL from ${VAR} may
// carry a password (https://user:pass@host), and no error may print one.
func quoteURL(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return quote(s)
	}
	rest := s[scheme+3:]
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	at := strings.LastIndex(rest[:hostEnd], "@")
	if at < 0 {
		return quote(s)
	}
	user := redacted
	if name, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
		user = name + ":" + redacted
	}
	return quote(s[:scheme+3] + user + rest[at:])
}

// urlParseReason is url.Parse's complaint without the URL it repeats (see quoteURL).
func urlParseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// JSONBody is a request body written as YAML; string leaves may be templates.
type JSONBody struct {
	Value any
}

func (j *JSONBody) decodeNode(d *decoder, n *yaml.Node) {
	j.Value = d.jsonValue(n)
}

func (d *decoder) jsonValue(n *yaml.Node) any {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				d.errorf(k, "duplicate key %q", k.Value)
			}
			m[k.Value] = d.jsonValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.jsonValue(c)
		}
		return s
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			t := d.compileTemplate(n, n.Value)
			if t.IsLiteral() {
				return n.Value
			}
			return t
		}
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, "invalid value: %v", err)
		}
		return v
	}
	return nil
}

// Render returns the body with templates executed, ready for json.Marshal.
func (j *JSONBody) Render(data *TemplateData) (any, error) {
	return renderJSON(j.Value, data)
}

func renderJSON(v any, data *TemplateData) (any, error) {
	switch x := v.(type) {
	case Template:
		return x.Render(data)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := renderJSON(e, data)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := renderJSON(e, data)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

func (j JSONBody) MarshalYAML() (any, error) { return j.Value, nil }
