package specs

import (
	"encoding/json"
	"os"
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
