package app

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxSlow is the longest GET /slow will sleep; anything longer is almost
// certainly a typo that would tie up a test for minutes.
const MaxSlow = 10 * time.Second

func (a *App) health(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, a.healthBody)
}

type slowResponse struct {
	SleptMs int `json:"sleptMs"`
}

func (a *App) slow(w http.ResponseWriter, r *http.Request) {
	ms := 0
	if s := r.URL.Query().Get("ms"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || time.Duration(n)*time.Millisecond > MaxSlow {
			writeError(w, http.StatusBadRequest, "ms must be an integer from 0 to "+strconv.Itoa(int(MaxSlow/time.Millisecond)))
			return
		}
		ms = n
	}
	if err := sleep(r.Context(), time.Duration(ms)*time.Millisecond); err != nil {
		// The client has usually gone; the status is for whoever is left
		// (a proxy, or a test calling ServeHTTP directly).
		writeRaw(w, http.StatusServiceUnavailable, cancelledBody)
		return
	}
	writeJSON(w, http.StatusOK, slowResponse{SleptMs: ms})
}

type redirectResponse struct {
	Location string `json:"location"`
}

func (a *App) redirect(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if !isRelativePath(to) {
		writeError(w, http.StatusBadRequest, "to must be a relative path such as /health")
		return
	}
	// Not http.Redirect: it answers in HTML and would make this the one
	// endpoint that is not JSON.
	w.Header().Set("Location", to)
	writeJSON(w, http.StatusFound, redirectResponse{Location: to})
}

// isRelativePath accepts only paths on this host. "//host" and "/\host" are
// rejected because browsers and some clients treat them as another host,
// which would make this an open redirect.
func isRelativePath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, `/\`) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == ""
}

func (a *App) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Faults())
}

func (a *App) putFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !decodeBody(w, r, &f, true) {
		return
	}
	if err := f.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid faults: "+err.Error())
		return
	}
	a.SetFaults(f)
	writeJSON(w, http.StatusOK, a.Faults())
}
