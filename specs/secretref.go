package specs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/greenlight/greenlight/secret"
)

// secretRefValue reads a secret at load. missing says the secret is simply not provided where
// the spec is loaded — its variable unset, its file absent — which validate may accept with a
// warning; any other problem (an unreadable, oversized or empty file) is an error everywhere.
// A secret file is read with the limits of ReadFileLimited.
func secretRefValue(r SecretRef, dir string, lookup func(string) (string, bool)) (v Secret, problem string, missing bool) {
	switch {
	case r.Env != "" && r.File != "":
		return "", "a secret takes either env or file, not both", false
	case r.Env != "":
		v, ok := lookup(r.Env)
		switch {
		case !ok:
			return "", "secret environment variable " + quote(r.Env) + " is not set", true
		case v == "":
			// CI systems give an empty string for a secret a job may not see (a fork's pull
			// request): missing, as for validate, but said as it is.
			return "", "secret environment variable " + quote(r.Env) + " is set but empty", true
		case len(v) < secret.MinLength:
			return "", tooShort("secret environment variable "+quote(r.Env), len(v)), false
		}
		return Secret(v), "", false
	case r.File == "":
		return "", "a secret needs env or file", false
	}
	b, err := ReadFileLimited(resolvePath(dir, r.File), MaxSecretFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "secret file " + quote(r.File) + " does not exist", true
	case err != nil:
		return "", "secret file " + quote(r.File) + ": " + describeFSError(err), false
	}
	s := strings.TrimRight(string(b), "\r\n")
	switch {
	case s == "":
		return "", "secret file " + quote(r.File) + " is empty", false
	case len(s) < secret.MinLength:
		return "", tooShort("secret file "+quote(r.File), len(s)), false
	}
	return Secret(s), "", false
}

// tooShort refuses a secret too short to redact: hiding every occurrence of one or two
// characters would mangle the output (ports, status codes) and protect nothing.
func tooShort(what string, n int) string {
	return fmt.Sprintf("%s holds %d bytes: a secret needs at least %d, or redacting it would blank those characters everywhere in the output", what, n, secret.MinLength)
}

// secretProblem reports a secret that could not be read: a warning when it is only missing and
// the options allow that, an error otherwise.
func (d *decoder) secretProblem(pos Position, missing bool, format string, args ...any) {
	switch {
	case missing && d.ctx.missing != nil:
		d.ctx.missing.add(pos, format, args...)
		return
	case missing && d.ctx.allowMissingSecrets:
		d.warns.add(pos, format, args...)
		return
	}
	d.errs.add(pos, format, args...)
}
