package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/greenlight/greenlight/secret"
)

// Scope is what a token may do; each scope includes the ones below it.
type Scope int

const (
	ScopePublic Scope = iota // no token needed: /healthz, /readyz, the OpenAPI document
	ScopeRead                // GET analyses, verdicts, events, /metrics
	ScopeWrite               // start and abort analyses
	ScopeAdmin               // override a decision, redeliver, enable an endpoint
)

var scopeNames = map[string]Scope{"read": ScopeRead, "write": ScopeWrite, "admin": ScopeAdmin}

func (s Scope) String() string {
	for name, sc := range scopeNames {
		if sc == s {
			return name
		}
	}
	return "public"
}

// MinTokenLength is the shortest token accepted: shorter ones can be guessed.
const MinTokenLength = 16

// Token is one API token: its name (shown in the audit log, never the token itself) and scope.
type Token struct {
	Name   string
	Scope  Scope
	digest [sha256.Size]byte
}

// Tokens are the API's bearer tokens. Only their SHA-256 digests are kept, and a request's
// token is hashed and compared with every one of them in constant time.
type Tokens struct {
	list []Token
}

// Add adds a token; names and tokens must be unique.
func (t *Tokens) Add(name string, scope Scope, tok secret.Secret) error {
	switch {
	case name == "" || strings.ContainsAny(name, " \t"):
		return fmt.Errorf("token name %q: want one word", name)
	case scope < ScopeRead || scope > ScopeAdmin:
		return fmt.Errorf("token %s: unknown scope", name)
	case len(tok.Reveal()) < MinTokenLength:
		return fmt.Errorf("token %s: shorter than %d characters", name, MinTokenLength)
	}
	d := sha256.Sum256([]byte(tok.Reveal()))
	for _, o := range t.list {
		switch {
		case o.Name == name:
			return fmt.Errorf("token %s: the name is given twice", name)
		case o.digest == d:
			return fmt.Errorf("token %s: the same token as %s", name, o.Name)
		}
	}
	t.list = append(t.list, Token{Name: name, Scope: scope, digest: d})
	return nil
}

// Len is how many tokens there are.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.list)
}

// ParseTokens reads a tokens file: one token a line, "NAME SCOPE TOKEN" separated by spaces
// (SCOPE is read, write or admin); blank lines and lines starting with # are ignored. Errors
// name the file and line, never the token.
func ParseTokens(r io.Reader, file string) (*Tokens, error) {
	t := &Tokens{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want NAME SCOPE TOKEN (%d fields found)", file, line, len(f))
		}
		scope, ok := scopeNames[f[1]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: scope %q: want read, write or admin", file, line, f[1])
		}
		if err := t.Add(f[0], scope, secret.Secret(f[2])); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// authenticate finds the token an Authorization header carries; given says a bearer token was
// sent at all.
func (t *Tokens) authenticate(header string) (tok Token, ok, given bool) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return Token{}, false, false
	}
	sum := sha256.Sum256([]byte(cred))
	found := -1
	for i := range t.list {
		if subtle.ConstantTimeCompare(sum[:], t.list[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false, true
	}
	return t.list[found], true, true
}

type tokenKey struct{}

// caller is the name of the token that made the request ("anonymous" without tokens).
func caller(ctx context.Context) string {
	if name, ok := ctx.Value(tokenKey{}).(string); ok {
		return name
	}
	return "anonymous"
}

// authorize wraps h so that it runs only for a token with at least scope need. Without tokens
// every request is let through (the daemon then listens on loopback unless told otherwise).
func (s *Server) authorize(need Scope, h http.HandlerFunc) http.HandlerFunc {
	if need == ScopePublic {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.o.Tokens.Len() == 0 {
			h(w, r)
			return
		}
		tok, ok, given := s.o.Tokens.authenticate(r.Header.Get("Authorization"))
		if !ok {
			challenge, msg := `Bearer realm="greenlight"`, "missing bearer token: send Authorization: Bearer <token>"
			if given {
				challenge, msg = `Bearer realm="greenlight", error="invalid_token"`, "wrong bearer token"
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, errorf(http.StatusUnauthorized, "%s", msg))
			return
		}
		if tok.Scope < need {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="greenlight", error="insufficient_scope", scope="%s"`, need))
			writeError(w, errorf(http.StatusForbidden, "token %s has scope %s; this needs %s", tok.Name, tok.Scope, need))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok.Name)))
	}
}
