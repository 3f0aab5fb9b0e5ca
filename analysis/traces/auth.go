package traces

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
)

// Who may post spans. A shared receiver accepts a set of bearer tokens: its own (Config.Token,
// given by the process that serves it) and those of its open views (ViewConfig.Token, from each
// analysis's spec). While the set is not empty every request must carry one of them; a token
// authenticates a sender to the receiver, not to one analysis. A view's token stops being
// accepted when it closes. Without any token the receiver takes every request, so whoever serves
// it must keep it on loopback (CheckListener).

// ErrExposed marks a listener that other hosts can reach while the receiver has no token of its
// own.
var ErrExposed = errors.New("trace receiver reachable from other hosts without a token")

// CheckListener refuses an address other hosts can reach unless the receiver has a token of its
// own (Config.Token): the views' tokens come and go with the analyses, so they cannot be what
// keeps outsiders from feeding the judge.
func (r *Receiver) CheckListener(addr net.Addr) error {
	if r.auth || loopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s: give the receiver a token, or serve it on loopback", ErrExposed, addr)
}

// loopback reports whether a bound address is reachable from this host only.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// authorized checks an Authorization header against the digests of the accepted tokens; given
// says a bearer token was sent at all. The token sent is hashed first and compared with every
// accepted one, so the comparison takes the same time whatever the length of what was sent,
// wherever it first differs and whichever token it matches.
func authorized(header string, tokens [][sha256.Size]byte) (ok, given bool) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return false, false
	}
	sum := sha256.Sum256([]byte(cred))
	match := 0
	for i := range tokens {
		match |= subtle.ConstantTimeCompare(sum[:], tokens[i][:])
	}
	return match == 1, true
}

// refuse answers a request without the right token: 401 (not retryable, so the exporter drops
// the batch rather than retrying it forever), counted for the views' warnings. The first
// refusal is logged as a warning, the others at debug level, so a flood cannot flood the log;
// what was sent is never logged.
func (r *Receiver) refuse(w http.ResponseWriter, req *http.Request, enc encoding, given bool) {
	n := r.refused.Add(1)
	msg, challenge := "missing bearer token", `Bearer realm="otlp"`
	if given {
		msg, challenge = "wrong bearer token", `Bearer realm="otlp", error="invalid_token"`
	}
	level := slog.LevelDebug
	if n == 1 {
		level = slog.LevelWarn
	}
	r.log.Log(req.Context(), level, "otlp traces: refused a request: "+msg+" (give the apps OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)",
		"remote", req.RemoteAddr, "refused", n)
	w.Header().Set("WWW-Authenticate", challenge)
	r.fail(w, enc, http.StatusUnauthorized, rpcUnauthenticated, msg)
}
