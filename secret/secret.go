package secret

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// Secret is a credential. It prints, formats and marshals as "<secret>" so that it cannot reach
// a log line, a report or an error by accident; Reveal is the one way to read it, used only where
// the value goes on the wire.
type Secret string

// Redacted is what a secret prints as, and what redaction leaves in its place.
const Redacted = "<secret>"

const redacted = Redacted

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (s Secret) MarshalYAML() (any, error)    { return redacted, nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) Reveal() string               { return string(s) }

// URLSecrets returns the credentials in a URL's userinfo (https://user:password@host): the
// password as written and percent-decoded, and user:password, whose base64 is what an
// Authorization: Basic header carries. A user name without a password is the credential itself
// (a token written as the user name), so it is returned instead. The URL need not parse: an
// error quoting a malformed URL must not reveal its password either.
func URLSecrets(rawURL string) []Secret {
	var out []Secret
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, Secret(s))
		}
	}
	for rest := rawURL; ; {
		i := strings.Index(rest, "://")
		if i < 0 {
			return out
		}
		rest = rest[i+3:]
		authority := rest
		if j := strings.IndexAny(authority, "/?#"); j >= 0 {
			authority = authority[:j]
		}
		at := strings.LastIndex(authority, "@")
		if at < 0 {
			continue
		}
		userinfo := authority[:at]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if !hasPass {
			add(user)
			add(unescapeUserinfo(user))
			add(unescapeUserinfo(user) + ":")
			continue
		}
		add(pass)
		add(unescapeUserinfo(pass))
		add(userinfo)
		add(unescapeUserinfo(user) + ":" + unescapeUserinfo(pass))
	}
}

func unescapeUserinfo(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// IsHeader reports whether a header's value is a credential by its name: Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, and any name holding token, secret,
// password or api-key.
func IsHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "apikey":
		return true
	}
	for _, part := range []string{"token", "secret", "password", "api-key", "api_key", "apikey"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// HeaderValues returns the secrets in a header written in a spec: for a header IsHeader
// names, its value, the credentials after an auth scheme ("Bearer abc" → abc; for Basic also the
// decoded user:password and password) and each long enough cookie value. Other headers have none.
func HeaderValues(name, value string) []Secret {
	value = strings.TrimSpace(value)
	if value == "" || !IsHeader(name) {
		return nil
	}
	out := []Secret{Secret(value)}
	if scheme, cred, ok := strings.Cut(value, " "); ok && !strings.ContainsAny(scheme, "=;,") {
		cred = strings.TrimSpace(cred)
		out = append(out, Secret(cred))
		if strings.EqualFold(scheme, "Basic") {
			if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
				out = append(out, Secret(b))
				if _, pass, ok := strings.Cut(string(b), ":"); ok && pass != "" {
					out = append(out, Secret(pass))
				}
			}
		}
	}
	if strings.Contains(strings.ToLower(name), "cookie") {
		for _, c := range strings.Split(value, ";") {
			if _, v, ok := strings.Cut(c, "="); ok && len(strings.TrimSpace(v)) >= minLineSecret {
				out = append(out, Secret(strings.TrimSpace(v)))
			}
		}
	}
	return out
}
