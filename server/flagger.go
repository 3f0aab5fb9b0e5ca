package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// flaggerPattern is the route Flagger's webhooks call.
const flaggerPattern = "/api/v1/flagger/{spec}"

// flaggerRequest is the body Flagger POSTs to every webhook (its CanaryWebhookPayload):
// the canary's name and namespace, its phase, a checksum of the revision being rolled out, and
// the webhook's metadata from the Canary.
type flaggerRequest struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// flaggerView answers a Flagger webhook. Flagger passes a check on 200–202 only and shows any
// other answer's body in its events, so the body says what greenlight decided and why.
type flaggerView struct {
	Analysis string `json:"analysis"`
	Verdict  string `json:"verdict"`
	State    string `json:"state"`
	// Pass is whether this answer passes Flagger's check.
	Pass   bool              `json:"pass"`
	Reason string            `json:"reason,omitempty"`
	Links  map[string]string `json:"links"`
}

// Metadata keys a Canary's webhook may set.
const (
	flaggerEnvPrefix = "env."     // env.NAME: the URL of environment NAME
	flaggerToken     = "token"    // an API token, for Flagger cannot send headers
	flaggerBaseline  = "baseline" // the baseline's environment name
	flaggerCandidate = "candidate"
)

// flaggerHook is the query parameter naming the webhook type: rollback inverts the answer.
const flaggerRollbackHook = "rollback"

// flagger serves Flagger's pre-rollout, rollout and confirm-promotion webhooks (and, with
// ?hook=rollback, its rollback webhook). It finds the analysis of the canary's revision — keyed
// by the spec, namespace, name and checksum — or starts it, and answers 200 only once the
// verdict is promote: 409 while it runs, 412 when it is anything else, with the reason.
func (s *Server) flagger(w http.ResponseWriter, r *http.Request) {
	spec := r.PathValue("spec")
	hook := r.URL.Query().Get("hook")
	if hook != "" && hook != flaggerRollbackHook {
		writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query",
			Fields: []fieldError{{Field: "hook", Message: fmt.Sprintf("%q: want rollback, or no hook parameter for pre-rollout, rollout and confirm-promotion", hook)}}})
		return
	}
	req, e := s.decodeFlagger(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	key := flaggerKey(spec, req)
	a, err := s.o.Store.AnalysisByKey(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound) && hook == flaggerRollbackHook:
		// Nothing runs for this revision: nothing to roll back, and a rollback hook does not start one.
		writeJSON(w, http.StatusConflict, flaggerView{Verdict: "none", State: "none", Reason: "no analysis of this revision: nothing to roll back",
			Links: map[string]string{}})
		return
	case errors.Is(err, store.ErrNotFound):
		start := flaggerStart(spec, key, req)
		var created bool
		var se *apiError
		if a, created, se = s.startAnalysis(r.Context(), &start); se != nil {
			writeError(w, se)
			return
		}
		if created {
			s.log.Info("analysis started for a Flagger canary", "analysis", a.ID, "spec", spec, "canary", req.Namespace+"/"+req.Name, "checksum", req.Checksum)
		}
	case err != nil:
		s.internal(w, err)
		return
	}
	v, err := s.verdictView(r.Context(), a)
	if err != nil {
		s.internal(w, err)
		return
	}
	out := flaggerView{Analysis: a.ID, Verdict: v.Verdict, State: string(v.State), Reason: v.Reason, Links: v.Links}
	status := http.StatusOK
	switch {
	case hook == flaggerRollbackHook:
		// Flagger rolls back on a 2xx: only a rollback verdict says so.
		if v.State != verdict.Rollback {
			status = http.StatusConflict
		}
	case v.State == verdict.Running:
		status = http.StatusConflict
		out.Reason = "the analysis is running: no verdict yet"
	case v.State != verdict.Promote:
		status = http.StatusPreconditionFailed
	}
	out.Pass = status == http.StatusOK
	writeJSON(w, status, out)
}

// decodeFlagger reads Flagger's body: at most MaxBodyBytes, fields it may add later ignored.
func (s *Server) decodeFlagger(w http.ResponseWriter, r *http.Request) (flaggerRequest, *apiError) {
	var req flaggerRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return req, errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", s.o.MaxBodyBytes)
	case err != nil:
		return req, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, &apiError{Status: http.StatusBadRequest, Error: "invalid JSON body: want Flagger's webhook payload {name, namespace, phase, checksum, metadata}",
			Fields: []fieldError{{Message: err.Error()}}}
	}
	var fields []fieldError
	for _, f := range []struct{ name, v string }{{"name", req.Name}, {"namespace", req.Namespace}, {"checksum", req.Checksum}} {
		switch {
		case f.v == "":
			fields = append(fields, fieldError{Field: f.name, Message: "required"})
		case len(f.v) > maxLabelVal:
			fields = append(fields, fieldError{Field: f.name, Message: fmt.Sprintf("longer than %d characters", maxLabelVal)})
		}
	}
	if len(fields) > 0 {
		return req, &apiError{Status: http.StatusBadRequest, Error: "invalid Flagger webhook payload", Fields: fields}
	}
	return req, nil
}

// flaggerKey is the idempotency key of a canary revision's analysis under a spec: every
// webhook call of one rollout finds the same analysis, a new revision (a new checksum) a new
// one. A key longer than the API allows is hashed.
func flaggerKey(spec string, req flaggerRequest) string {
	key := "flagger/" + req.Namespace + "/" + req.Name + "/" + req.Checksum + "/" + spec
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = "flagger/sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// flaggerStart is the start request of a canary revision: environment URLs and roles from the
// webhook's metadata (env.NAME, baseline, candidate), the rest from the spec; labels naming
// the canary.
func flaggerStart(spec, key string, req flaggerRequest) startRequest {
	out := startRequest{Spec: spec, Key: key, Baseline: req.Metadata[flaggerBaseline], Candidate: req.Metadata[flaggerCandidate],
		Labels: map[string]string{"flagger.namespace": req.Namespace, "flagger.name": req.Name, "flagger.checksum": req.Checksum}}
	for k, v := range req.Metadata {
		if name, ok := strings.CutPrefix(k, flaggerEnvPrefix); ok {
			if out.Environments == nil {
				out.Environments = map[string]string{}
			}
			out.Environments[name] = v
		}
	}
	return out
}

// flaggerTokenAuth lets Flagger, which sends no headers of its own, authenticate with an API
// token in its webhook's metadata (metadata.token): when the request has no Authorization
// header, one is made from it before next checks the token.
func (s *Server) flaggerTokenAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.Body != nil {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeError(w, errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", s.o.MaxBodyBytes))
				return
			case err != nil:
				writeError(w, errorf(http.StatusBadRequest, "reading the body: %v", err))
				return
			}
			var p struct {
				Metadata map[string]string `json:"metadata"`
			}
			if json.Unmarshal(body, &p) == nil && p.Metadata[flaggerToken] != "" {
				r.Header.Set("Authorization", "Bearer "+p.Metadata[flaggerToken])
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next(w, r)
	}
}
