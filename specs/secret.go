package specs

import (
	"github.com/greenlight/greenlight/secret"
)

// Secret is a credential (see package secret): it prints and marshals as "<secret>".
type Secret = secret.Secret

// Redactor replaces known secret values in text, in every encoding they travel in.
type Redactor = secret.Redactor

// NewRedactor builds a redactor for the given secrets.
func NewRedactor(secrets ...Secret) *Redactor { return secret.NewRedactor(secrets...) }

// URLSecrets returns the credentials in a URL's userinfo (see secret.URLSecrets).
func URLSecrets(rawURL string) []Secret { return secret.URLSecrets(rawURL) }

// IsSecretHeader reports whether a header's name says it carries a credential.
func IsSecretHeader(name string) bool { return secret.IsHeader(name) }

// HeaderSecrets returns what a header's value reveals (see secret.HeaderValues).
func HeaderSecrets(name, value string) []Secret { return secret.HeaderValues(name, value) }

const redacted = secret.Redacted

// SecretRef says where a secret comes from: an environment variable or a file (whose trailing
// newline is dropped, as Kubernetes secret mounts and `echo` leave one).
type SecretRef struct {
	Env  string   `yaml:"env,omitempty" doc:"Environment variable holding the secret."`
	File string   `yaml:"file,omitempty" doc:"File holding the secret, relative to the spec file; a trailing newline is dropped."`
	Pos  Position `yaml:"-"`
}

func (r SecretRef) resolve(dir string, lookup func(string) (string, bool)) (Secret, string) {
	v, problem, _ := secretRefValue(r, dir, lookup)
	return v, problem
}
