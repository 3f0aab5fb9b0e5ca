package specs

import (
	"encoding/json"
	"net/url"
	"os"
	"sort"
	"strings"
)

// Secret is a credential. It prints, formats and marshals as "<secret>" so that it cannot reach
// a log line, a report or an error by accident; Reveal is the one way to read it, used only where
// the value goes on the wire.
type Secret string

const redacted = "<secret>"

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (s Secret) MarshalYAML() (any, error)    { return redacted, nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) Reveal() string               { return string(s) }

// SecretRef says where a secret comes from: an environment variable or a file (whose trailing
// newline is dropped, as Kubernetes secret mounts and `echo` leave one).
type SecretRef struct {
	Env  string   `yaml:"env,omitempty" doc:"Environment variable holding the secret."`
	File string   `yaml:"file,omitempty" doc:"File holding the secret, relative to the spec file; a trailing newline is dropped."`
	Pos  Position `yaml:"-"`
}

func (r SecretRef) resolve(dir string, lookup func(string) (string, bool)) (Secret, string) {
	switch {
	case r.Env != "" && r.File != "":
		return "", "a secret takes either env or file, not both"
	case r.Env != "":
		v, ok := lookup(r.Env)
		if !ok || v == "" {
			return "", "secret environment variable " + quote(r.Env) + " is not set"
		}
		return Secret(v), ""
	case r.File != "":
		b, err := os.ReadFile(resolvePath(dir, r.File))
		if err != nil {
			return "", "cannot read secret file: " + err.Error()
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", "secret file " + quote(r.File) + " is empty"
		}
		return Secret(v), ""
	}
	return "", "a secret needs env or file"
}

// Redactor replaces every known secret value in text with "<secret>". Every path from a spec to
// a human or a machine-readable output passes through one.
type Redactor struct {
	values []string
	r      *strings.Replacer
}

// NewRedactor builds a redactor for the given secrets; short values (under 4 bytes) are still
// redacted, because a short password is still a password.
func NewRedactor(secrets ...Secret) *Redactor {
	rd := &Redactor{}
	rd.Add(secrets...)
	return rd
}

// Add registers more secrets.
func (rd *Redactor) Add(secrets ...Secret) {
	seen := map[string]bool{}
	for _, v := range rd.values {
		seen[v] = true
	}
	for _, s := range secrets {
		v := string(s)
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		rd.values = append(rd.values, v)
	}
	// Longest first so that a secret containing another is replaced whole.
	sort.Slice(rd.values, func(i, j int) bool { return len(rd.values[i]) > len(rd.values[j]) })
	pairs := make([]string, 0, 2*len(rd.values))
	for _, v := range rd.values {
		pairs = append(pairs, v, redacted)
		// Secrets also travel URL-encoded (in queries) and JSON-escaped (in bodies).
		for _, e := range []string{urlEscape(v), url.PathEscape(v), (&url.URL{Path: v}).EscapedPath()} {
			if e != v {
				pairs = append(pairs, e, redacted)
			}
		}
		if e := jsonEscape(v); e != v {
			pairs = append(pairs, e, redacted)
		}
	}
	rd.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every secret replaced.
func (rd *Redactor) Redact(s string) string {
	if rd == nil || rd.r == nil {
		return s
	}
	return rd.r.Replace(s)
}

// Empty reports whether there is nothing to redact.
func (rd *Redactor) Empty() bool { return rd == nil || len(rd.values) == 0 }

// Secrets returns the secrets the redactor knows, for merging redactors.
func (rd *Redactor) Secrets() []Secret {
	if rd == nil {
		return nil
	}
	out := make([]Secret, len(rd.values))
	for i, v := range rd.values {
		out[i] = Secret(v)
	}
	return out
}
