package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/greenlight/greenlight/specs"
)

// apiError is every error the API answers: {error, fields:[{field, message, position}]}.
type apiError struct {
	Status int          `json:"-"`
	Error  string       `json:"error"`
	Fields []fieldError `json:"fields,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

// fieldError names one field of the request that is wrong, and where in a spec file the
// problem lies when it lies in one (or where in the request body, for a malformed one).
type fieldError struct {
	Field    string          `json:"field"`
	Message  string          `json:"message"`
	Position *specs.Position `json:"position,omitempty"`
}

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Error: fmt.Sprintf(format, args...)}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}

// decodeBody reads a JSON request body into v: at most max bytes, unknown fields refused, one
// value only. Problems come back as 400 (413 when too large) naming the field or the position
// in the body.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "the body must be application/json, not %s", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", max)
	case err != nil:
		return errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return nil
	}
	e := &apiError{Status: http.StatusBadRequest, Error: "invalid JSON body"}
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		e.Fields = []fieldError{{Field: "", Message: syntax.Error(), Position: bodyPosition(body, syntax.Offset)}}
	case errors.As(err, &typeErr):
		e.Fields = []fieldError{{Field: typeErr.Field, Message: fmt.Sprintf("want %s, got %s", typeErr.Type, typeErr.Value), Position: bodyPosition(body, typeErr.Offset)}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e.Fields = []fieldError{{Field: name, Message: "unknown field"}}
	case errors.Is(err, io.EOF):
		e.Error = "empty body: want a JSON object"
	default:
		e.Fields = []fieldError{{Field: "", Message: err.Error()}}
	}
	return e
}

// bodyPosition turns a byte offset of the body into a line and column (1-based).
func bodyPosition(body []byte, offset int64) *specs.Position {
	if offset < 0 || offset > int64(len(body)) {
		return nil
	}
	line, col := 1, 1
	for _, c := range body[:offset] {
		if c == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return &specs.Position{File: "(request body)", Line: line, Column: col}
}
