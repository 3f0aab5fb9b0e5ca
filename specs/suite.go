package specs

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// APIVersion is the only version of the language so far.
const APIVersion = "greenlight/v1"

// Built-in defaults, applied in one place (applyDefaults).
const (
	DefaultStepTimeout     = 10 * time.Second
	DefaultSuiteTimeout    = 5 * time.Minute
	DefaultMaxBodySize     = 10 << 20
	DefaultMaxRedirects    = 10
	DefaultSyntheticHeader = "X-Greenlight-Synthetic"
	DefaultSyntheticValue  = "1"
)

// Metadata names a document.
type Metadata struct {
	Name        string            `yaml:"name,omitempty" doc:"Name of the document, unique per kind; suites are referenced by it."`
	Description string            `yaml:"description,omitempty" doc:"Free text shown in reports."`
	Labels      map[string]string `yaml:"labels,omitempty" doc:"Arbitrary key/value labels."`
	Pos         Position          `yaml:"-"`
}

// Suite is an ordered list of steps run as one pass against one environment.
type Suite struct {
	APIVersion string               `yaml:"apiVersion" doc:"Always greenlight/v1."`
	Kind       string               `yaml:"kind" doc:"Suite."`
	Metadata   Metadata             `yaml:"metadata"`
	Env        string               `yaml:"env,omitempty" doc:"Run this suite only against this environment (e.g. green); steps may still name another one. Empty: run against every environment given."`
	Vars       map[string]string    `yaml:"vars,omitempty" doc:"Variables for templates ({{ .vars.NAME }}); --var NAME=VALUE overrides."`
	Secrets    map[string]SecretRef `yaml:"secrets,omitempty" doc:"Named secrets ({{ secret \"NAME\" }}), read from an environment variable or a file. Never printed."`
	Defaults   Defaults             `yaml:"defaults,omitempty" doc:"Settings every step inherits unless it sets its own."`
	Timeout    Duration             `yaml:"timeout,omitempty" doc:"Limit for the whole suite (default 5m); always steps still run after it."`
	Steps      []Step               `yaml:"steps,omitempty" doc:"The steps, run in order. After a failure the remaining steps are skipped except always steps."`

	File string   `yaml:"-"`
	Pos  Position `yaml:"-"`
	// MissingSecrets are the suite's secrets that were not there at load, kept here rather than
	// failing the load under LoadOptions.SecretsWhenUsed (see Analysis.RequireSecrets).
	MissingSecrets Errors `yaml:"-"`

	ctx        *loadContext
	redactOnce sync.Once
	redactor   *Redactor
}

// Defaults are suite-wide step settings.
type Defaults struct {
	Timeout         Duration            `yaml:"timeout,omitempty" doc:"Per-step timeout (default 10s)."`
	Headers         map[string]Template `yaml:"headers,omitempty" doc:"Headers added to every request; a step's own headers win."`
	Retries         *Retries            `yaml:"retries,omitempty"`
	TLS             *TLS                `yaml:"tls,omitempty"`
	FollowRedirects *bool               `yaml:"followRedirects,omitempty" doc:"Follow redirects (default true)."`
	MaxRedirects    *int                `yaml:"maxRedirects,omitempty" doc:"Most redirects followed (default 10)."`
	MaxBodySize     ByteSize            `yaml:"maxBodySize,omitempty" doc:"Largest response body read (default 10MiB); a larger body fails the step."`
	Synthetic       *Synthetic          `yaml:"synthetic,omitempty"`
	Pos             Position            `yaml:"-"`
}

// Synthetic names the header that labels greenlight's traffic so apps can skip side effects.
type Synthetic struct {
	Header string   `yaml:"header,omitempty" doc:"Header name (default X-Greenlight-Synthetic)."`
	Value  string   `yaml:"value,omitempty" doc:"Header value (default 1)."`
	Pos    Position `yaml:"-"`
}

// Retries retries a step on transient failures with exponential backoff.
type Retries struct {
	Attempts   int      `yaml:"attempts,omitempty" doc:"Total attempts including the first (default 3)."`
	Backoff    Duration `yaml:"backoff,omitempty" doc:"Wait before the second attempt, doubled each time (default 200ms)."`
	MaxBackoff Duration `yaml:"maxBackoff,omitempty" doc:"Longest wait between attempts (default 5s)."`
	On         []string `yaml:"on,omitempty" doc:"What counts as transient: connection, timeout, 5xx, 429 (default [connection])."`
	Pos        Position `yaml:"-"`
}

// RetryOn values.
var retryOnValues = map[string]bool{"connection": true, "timeout": true, "5xx": true, "429": true}

// TLS configures the client side of TLS.
type TLS struct {
	CAFile     string   `yaml:"caFile,omitempty" doc:"PEM file of CAs to trust, relative to the spec file."`
	CertFile   string   `yaml:"certFile,omitempty" doc:"Client certificate (PEM) for mutual TLS."`
	KeyFile    string   `yaml:"keyFile,omitempty" doc:"Client key (PEM) for mutual TLS."`
	ServerName string   `yaml:"serverName,omitempty" doc:"Server name to verify instead of the URL's host."`
	Insecure   bool     `yaml:"insecure,omitempty" doc:"Skip certificate verification. Explicit, never a default."`
	Pos        Position `yaml:"-"`

	// Paths resolved against the spec file's folder at load; the fields keep what was written.
	caPath, certPath, keyPath string
}

// Paths returns the CA, certificate and key files resolved against the spec file's folder.
func (t *TLS) Paths() (ca, cert, key string) { return t.caPath, t.certPath, t.keyPath }

// Step is one step of a suite: a kind-specific action (http: …) plus what to expect of it and
// what to capture from it.
type Step struct {
	Name    string             `yaml:"name,omitempty" doc:"Unique within the suite."`
	Env     string             `yaml:"env,omitempty" doc:"Run this step on another environment than the suite's (rollback rehearsal: write on green, read on blue)."`
	Always  bool               `yaml:"always,omitempty" doc:"Run even after an earlier step failed or the suite timed out (cleanup)."`
	Timeout Duration           `yaml:"timeout,omitempty" doc:"Overrides defaults.timeout."`
	Retries *Retries           `yaml:"retries,omitempty" doc:"Overrides defaults.retries."`
	Expect  []Condition        `yaml:"expect,omitempty" doc:"Conditions (expr-lang) that must all hold, e.g. status == 200, json.token != \"\", duration < 300ms."`
	Capture map[string]Capture `yaml:"capture,omitempty" doc:"Values to keep for later steps: NAME: expression, or NAME: {json|header|regex|status|body: …}."`

	// Kind is the step kind's key (http); Config its decoded configuration.
	Kind   string     `yaml:"-"`
	Config StepConfig `yaml:"-"`
	Pos    Position   `yaml:"-"`
}

// HTTP returns the step's HTTP configuration, or nil for another kind.
func (s *Step) HTTP() *HTTPStep {
	h, _ := s.Config.(*HTTPStep)
	return h
}

var (
	nameRe       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	identifierRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// decodeNode decodes vars and secrets before anything else, whatever their order in the file, so
// that templates in steps can be checked against them.
func (s *Suite) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	rest := *n
	rest.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "vars":
			d.value(v, reflectValue(&s.Vars))
		case "secrets":
			d.value(v, reflectValue(&s.Secrets))
		default:
			rest.Content = append(rest.Content, k, v)
		}
	}
	d.ctx.setVars(s.Vars)
	for name, ref := range s.Secrets {
		d.ctx.secretRefs[name] = ref
	}
	d.ctx.resolveSecrets(d, n)
	d.structValue(&rest, reflectValue(s).Elem(), nil)
	s.Pos = d.pos(n)
}

func (s *Step) decodeNode(d *decoder, n *yaml.Node) {
	s.Pos = d.pos(n)
	var kindKey *yaml.Node
	unknown := false
	d.structValue(n, reflectValue(s).Elem(), func(k, v *yaml.Node) bool {
		kind, ok := stepKinds[k.Value]
		if !ok {
			// Most likely a misspelt or not-yet-supported kind: say so once, instead of also
			// complaining that the step has no kind.
			unknown = true
			hint := suggest(k.Value, append(StepKinds(), fieldsOf(reflectValue(s).Elem().Type()).names...))
			if hint == "" {
				hint = fmt.Sprintf(" (step kinds: %s)", kindList())
			}
			d.errorf(k, "unknown field %q%s", k.Value, hint)
			return true
		}
		if kindKey != nil {
			d.errorf(k, "step has two kinds, %q and %q: one step does one thing", kindKey.Value, k.Value)
			return true
		}
		kindKey = k
		s.Kind = k.Value
		s.Config = kind.New()
		d.value(v, reflectValue(s.Config).Elem())
		return true
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if kindKey == nil && !unknown {
		d.errorf(n, "step %q has no kind: add one of %s", s.Name, kindList())
	}
	// Captures become visible to the steps after this one.
	for name := range s.Capture {
		d.ctx.captures[name] = true
	}
}

// validate checks what the decoder cannot: required fields, uniqueness, cross-references.
func (s *Suite) validate(d *decoder, n *yaml.Node) {
	// Point at the field when it is there, else at the document.
	at := func(key string) Position {
		if v := mappingValue(n, key); v != nil {
			return d.pos(v)
		}
		return s.Pos
	}
	switch {
	case mappingValue(n, "apiVersion") == nil:
		d.errs.add(s.Pos, "apiVersion is required (%s)", APIVersion)
	case s.APIVersion != APIVersion:
		d.errs.add(at("apiVersion"), "apiVersion must be %q, got %q", APIVersion, s.APIVersion)
	}
	if s.Metadata.Name == "" {
		if !d.meant(at("metadata"), "name") {
			d.errs.add(at("metadata"), "metadata.name is required")
		}
	} else if !nameRe.MatchString(s.Metadata.Name) {
		d.errs.add(s.Metadata.Pos, "metadata.name %q may use letters, digits, '.', '_' and '-' only", s.Metadata.Name)
	}
	if steps := mappingValue(n, "steps"); steps == nil {
		if !d.meant(s.Pos, "steps") {
			d.errs.add(s.Pos, "suite %q has no steps", s.Metadata.Name)
		}
	} else if len(s.Steps) == 0 && steps.Kind == yaml.SequenceNode {
		d.errs.add(d.pos(steps), "suite %q has no steps", s.Metadata.Name)
	}
	s.Defaults.validate(d)
	seen := map[string]Position{}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Name == "" {
			d.errs.add(st.Pos, "step %d has no name", i+1)
		} else if first, dup := seen[st.Name]; dup {
			d.errs.add(st.Pos, "duplicate step name %q (first at line %d)", st.Name, first.Line)
		} else {
			seen[st.Name] = st.Pos
		}
		if st.Retries != nil {
			st.Retries.validate(d)
		}
		if st.Config != nil {
			st.Config.validate(d, st)
		}
		for name, c := range st.Capture {
			if !identifierRe.MatchString(name) || reservedData[name] {
				d.errs.add(c.Pos, "capture name %q must be an identifier (letters, digits, _) and not vars, captures or env", name)
			}
		}
	}
}

func (df *Defaults) validate(d *decoder) {
	if df.Retries != nil {
		df.Retries.validate(d)
	}
	for _, name := range sortedNames(df.Headers) {
		if !validHeaderName(name) {
			d.errs.add(df.Headers[name].pos, "defaults: invalid header name %q", name)
		}
	}
	d.checkHeaderValues("defaults", df.Headers)
	if df.MaxRedirects != nil && *df.MaxRedirects < 0 {
		d.errs.add(df.Pos, "defaults.maxRedirects must not be negative")
	}
	if sy := df.Synthetic; sy != nil {
		if sy.Header != "" && !validHeaderName(sy.Header) {
			d.errs.add(sy.Pos, "defaults.synthetic.header %q is not a valid header name", sy.Header)
		}
		if strings.ContainsAny(sy.Value, "\r\n") {
			d.errs.add(sy.Pos, "defaults.synthetic.value contains a line break (CR or LF), which no header value may hold")
		}
	}
	if df.TLS != nil {
		df.TLS.validate(d)
	}
}

func (r *Retries) validate(d *decoder) {
	if r.Attempts < 0 {
		d.errs.add(r.Pos, "retries.attempts must be at least 1, got %d", r.Attempts)
	}
	for _, on := range r.On {
		if !retryOnValues[on] {
			d.errs.add(r.Pos, "retries.on: unknown value %q (use connection, timeout, 5xx, 429)", on)
		}
	}
	if r.MaxBackoff != 0 && r.Backoff > r.MaxBackoff {
		d.errs.add(r.Pos, "retries.backoff (%s) is larger than retries.maxBackoff (%s)", r.Backoff, r.MaxBackoff)
	}
}

func (t *TLS) validate(d *decoder) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		d.errs.add(t.Pos, "tls: certFile and keyFile go together")
	}
	// Paths are resolved against the spec file here, once, so the runner reads them as they are.
	for _, f := range []struct {
		written  string
		resolved *string
	}{
		{t.CAFile, &t.caPath}, {t.CertFile, &t.certPath}, {t.KeyFile, &t.keyPath},
	} {
		if f.written == "" {
			continue
		}
		*f.resolved = resolvePath(d.ctx.dir(), f.written)
		if err := checkFile(*f.resolved, MaxPEMFileSize); err != nil {
			d.errs.add(t.Pos, "tls: cannot read %q: %s", f.written, describeFSError(err))
		}
	}
}

// applyDefaults fills every unset step setting from the suite's defaults and the built-in ones.
// It is the only place defaults are decided.
func (s *Suite) applyDefaults() {
	df := &s.Defaults
	if df.Timeout == 0 {
		df.Timeout = Duration(DefaultStepTimeout)
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(DefaultSuiteTimeout)
	}
	if df.MaxBodySize == 0 {
		df.MaxBodySize = DefaultMaxBodySize
	}
	if df.FollowRedirects == nil {
		df.FollowRedirects = ptr(true)
	}
	if df.MaxRedirects == nil {
		df.MaxRedirects = ptr(DefaultMaxRedirects)
	}
	if df.Synthetic == nil {
		df.Synthetic = &Synthetic{}
	}
	if df.Synthetic.Header == "" {
		df.Synthetic.Header = DefaultSyntheticHeader
	}
	if df.Synthetic.Value == "" {
		df.Synthetic.Value = DefaultSyntheticValue
	}
	if df.Retries != nil {
		df.Retries.applyDefaults()
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Timeout == 0 {
			st.Timeout = df.Timeout
		}
		if st.Retries == nil {
			st.Retries = df.Retries
		} else {
			st.Retries.applyDefaults()
		}
		if st.Config != nil {
			st.Config.applyDefaults(df)
		}
	}
}

func (r *Retries) applyDefaults() {
	if r.Attempts == 0 {
		r.Attempts = 3
	}
	if r.Backoff == 0 {
		r.Backoff = Duration(200 * time.Millisecond)
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = Duration(5 * time.Second)
	}
	if len(r.On) == 0 {
		r.On = []string{"connection"}
	}
}

// RetriesOn reports whether r retries the given kind of failure.
func (r *Retries) RetriesOn(kind string) bool {
	if r == nil {
		return false
	}
	for _, on := range r.On {
		if on == kind {
			return true
		}
	}
	return false
}

// Redactor returns a redactor for every secret the suite can reveal. It is built once: a
// monitor runs the same suite many times a second.
func (s *Suite) Redactor() *Redactor {
	s.redactOnce.Do(func() {
		if s.ctx == nil {
			s.redactor = NewRedactor()
			return
		}
		s.redactor = s.ctx.redactor()
	})
	return s.redactor
}

func ptr[T any](v T) *T { return &v }

// MarshalYAML writes the step with its kind key, so that a marshalled suite loads again.
func (s Step) MarshalYAML() (any, error) {
	type plain Step // drops this method, avoiding recursion
	var n yaml.Node
	if err := n.Encode(plain(s)); err != nil {
		return nil, err
	}
	if s.Config != nil {
		var c yaml.Node
		if err := c.Encode(s.Config); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.Kind}, &c)
	}
	return &n, nil
}
