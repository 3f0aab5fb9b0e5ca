package app

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxBodyBytes bounds every request body; the largest legitimate one is a
// Faults document of a few hundred bytes.
const maxBodyBytes = 1 << 20

// Bodies that never change are encoded once rather than on every request.
var (
	injectedFaultBody = errorBody("injected fault")
	cancelledBody     = errorBody("request cancelled")
)

// jsonContentType is shared by every response. Assigning the slice directly
// instead of calling Header().Set saves an allocation per request; net/http
// only reads it.
var jsonContentType = []string{"application/json"}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return append(b, '\n')
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(body) // the client may be gone; nothing useful to do about it
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the app's own types reach here, so this is a bug, not input.
		writeRaw(w, http.StatusInternalServerError, errorBody("encode response: "+err.Error()))
		return
	}
	writeRaw(w, status, append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeRaw(w, status, errorBody(msg))
}

// decodeBody reads exactly one JSON value into v. On failure it answers the
// request itself (400, or 413 for an oversized body) and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after JSON value")
	}
	if err == nil {
		return true
	}
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return false
	}
	writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
	return false
}
