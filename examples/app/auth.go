package app

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token string `json:"token"`
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	// Compare both fields in constant time, and always both, so timing
	// does not reveal which one was wrong.
	userOK := subtle.ConstantTimeCompare([]byte(req.Username), []byte(a.cfg.Username))
	passOK := subtle.ConstantTimeCompare([]byte(req.Password), []byte(a.cfg.Password))
	if userOK&passOK != 1 {
		writeError(w, http.StatusUnauthorized, "invalid credentials")
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: a.store.issueToken()})
}

// authorize checks the bearer token; on failure it answers 401 itself and
// returns false.
func (a *App) authorize(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	switch {
	case h == "":
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, "missing bearer token")
		return false
	case !found || !strings.EqualFold(scheme, "Bearer") || !a.store.validToken(strings.TrimSpace(tok)):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid token")
		return false
	}
	return true
}

func (a *App) profile(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, a.profileBody)
}
