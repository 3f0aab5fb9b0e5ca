package emit

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/greenlight/greenlight/secret"
)

// URLSecrets are the parts of an endpoint's URL that a receiver may echo back in an error
// and that may be a credential: the whole URL, its userinfo, its path and query (a Slack or
// Teams webhook URL is a token in its path), long path segments and query values. An
// unparsable URL is a secret as a whole.
func URLSecrets(rawURL string) []secret.Secret {
	out := append([]secret.Secret{secret.Secret(rawURL)}, secret.URLSecrets(rawURL)...)
	u, err := url.Parse(rawURL)
	if err != nil {
		return out
	}
	add := func(s string, minLen int) {
		if len(s) >= minLen {
			out = append(out, secret.Secret(s))
		}
	}
	add(u.RequestURI(), 8)
	add(u.EscapedPath(), 8)
	add(u.Path, 8)
	add(u.RawQuery, 8)
	for _, seg := range strings.Split(u.Path, "/") {
		add(seg, 16)
	}
	for _, v := range u.Query() {
		for _, s := range v {
			add(s, 8)
		}
	}
	return out
}

// CheckURL reports whether an endpoint's URL is an absolute http or https URL, without
// quoting it: it may hold a credential.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("url must be an absolute http or https URL")
	}
	return nil
}

// EndpointError prefixes err with the integration's kind and the endpoint's name, and
// removes every secret rd knows from its text — a *StatusError's body included — while
// keeping the error inspectable (errors.Is ErrGone, errors.As *StatusError).
func EndpointError(kind, name string, rd *secret.Redactor, err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		se.Body = rd.Redact(se.Body)
	}
	return &endpointError{msg: rd.Redact(fmt.Sprintf("%s %s: %v", kind, name, err)), err: err}
}

type endpointError struct {
	msg string
	err error
}

func (e *endpointError) Error() string { return e.msg }
func (e *endpointError) Unwrap() error { return e.err }
