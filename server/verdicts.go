package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// verdictView answers GET …/verdict: always 200 JSON with an explicit verdict, so that a caller
// that treats any other status as an error, or any non-JSON body as a success (Argo Rollouts'
// web provider in its released versions), reads exactly what greenlight decided.
type verdictView struct {
	ID string `json:"id"`
	// Verdict is running, promote, rollback or inconclusive.
	Verdict string `json:"verdict"`
	// State is the same, except that an analysis stopped before a verdict (aborted) is
	// interrupted.
	State     verdict.Decision  `json:"state"`
	Decided   bool              `json:"decided"`
	Reason    string            `json:"reason,omitempty"`
	Phase     verdict.Phase     `json:"phase,omitempty"`
	DecidedAt *time.Time        `json:"decidedAt,omitempty"`
	Revision  int               `json:"revision,omitempty"`
	Override  *verdict.Override `json:"override,omitempty"`
	Links     map[string]string `json:"links"`
}

func (s *Server) verdictView(ctx context.Context, a store.Analysis) (verdictView, error) {
	out := verdictView{ID: a.ID, Verdict: apiVerdict(a.State), State: a.State, Phase: a.Phase,
		Links: map[string]string{"analysis": "/api/v1/analyses/" + a.ID}}
	if a.State == verdict.Running {
		return out, nil
	}
	sv, err := s.o.Store.Verdict(ctx, a.ID)
	if err != nil {
		return out, err
	}
	var v verdict.Verdict
	if err := json.Unmarshal(sv.Data, &v); err != nil {
		return out, fmt.Errorf("analysis %s: stored verdict: %w", a.ID, err)
	}
	at := sv.At
	out.State, out.Verdict, out.Decided = sv.Decision, apiVerdict(sv.Decision), true
	out.Reason, out.Phase, out.DecidedAt, out.Revision, out.Override = v.Reason, v.Phase, &at, sv.Revision, v.Override
	return out, nil
}

// getVerdict answers the verdict, waiting up to ?wait= (at most MaxWait) for a running analysis
// to be decided.
func (s *Server) getVerdict(w http.ResponseWriter, r *http.Request) { s.verdictOf(w, r, s.lookup) }

// getVerdictByKey answers the verdict of the analysis started with ?key= (its idempotency key),
// as getVerdict does: a caller that started it with a key (an Argo Rollouts AnalysisTemplate, a
// pipeline) polls by that key with a read token, without keeping the id.
func (s *Server) getVerdictByKey(w http.ResponseWriter, r *http.Request) {
	s.verdictOf(w, r, s.lookupKey)
}

// lookupKey finds the analysis of the request's ?key=, answering 400 or 404 itself.
func (s *Server) lookupKey(w http.ResponseWriter, r *http.Request) (store.Analysis, bool) {
	key := r.URL.Query().Get("key")
	if key == "" || len(key) > maxKeyLen {
		writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query",
			Fields: []fieldError{{Field: "key", Message: fmt.Sprintf("required, at most %d characters", maxKeyLen)}}})
		return store.Analysis{}, false
	}
	a, err := s.o.Store.AnalysisByKey(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, errorf(http.StatusNotFound, "no analysis started with key %q", key))
		return a, false
	case err != nil:
		s.internal(w, err)
		return a, false
	}
	return a, true
}

// verdictOf answers the verdict of the analysis find names, waiting up to ?wait=.
func (s *Server) verdictOf(w http.ResponseWriter, r *http.Request, find func(http.ResponseWriter, *http.Request) (store.Analysis, bool)) {
	var wait time.Duration
	if raw := r.URL.Query().Get("wait"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query",
				Fields: []fieldError{{Field: "wait", Message: fmt.Sprintf("%q: want a duration such as 30s", raw)}}})
			return
		}
		wait = min(d, s.o.MaxWait)
	}
	a, ok := find(w, r)
	if !ok {
		return
	}
	if a.State == verdict.Running && wait > 0 {
		// Whichever replica runs it: the store tells of the verdict's commit.
		if s.o.waiting != nil {
			s.o.waiting(a.ID)
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		err := s.waitDecided(ctx, a.ID)
		cancel()
		if err == nil {
			if a, ok = find(w, r); !ok {
				return
			}
		}
	}
	s.answerVerdict(w, r, a)
}

func (s *Server) answerVerdict(w http.ResponseWriter, r *http.Request, a store.Analysis) {
	v, err := s.verdictView(r.Context(), a)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// abortRequest is the body of POST …/abort.
type abortRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"` // who (default: the token's name)
}

// overrideRequest is the body of POST …/override.
type overrideRequest struct {
	Decision verdict.Decision `json:"decision"`
	By       string           `json:"by,omitempty"` // who (default: the token's name)
	Why      string           `json:"why"`
}

const maxTextLen = 1024

func checkText(fields *[]fieldError, field, v string, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		*fields = append(*fields, fieldError{Field: field, Message: "required"})
	case len(v) > maxTextLen:
		*fields = append(*fields, fieldError{Field: field, Message: fmt.Sprintf("longer than %d characters", maxTextLen)})
	}
}

// abort stops a running analysis: its verdict is interrupted with the reason, audited. Asked
// of a replica that does not run it, it is carried out by the one that does (see forward).
func (s *Server) abort(w http.ResponseWriter, r *http.Request) {
	var req abortRequest
	if e := decodeBody(w, r, s.o.MaxBodyBytes, &req); e != nil {
		writeError(w, e)
		return
	}
	var fields []fieldError
	checkText(&fields, "reason", req.Reason, true)
	checkText(&fields, "by", req.By, false)
	if len(fields) > 0 {
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Error: "invalid abort request", Fields: fields})
		return
	}
	a, ok := s.lookup(w, r)
	if !ok {
		return
	}
	by := req.By
	if by == "" {
		by = caller(r.Context())
	}
	s.command(w, r, a, store.Command{Analysis: a.ID, Kind: commandAbort, By: by, Token: caller(r.Context()), Why: req.Reason})
}

// doAbort aborts an analysis this replica runs, and answers the verdict; here is false when
// the analysis is running but not here.
func (s *Server) doAbort(ctx context.Context, a store.Analysis, c store.Command) (rep reply, here bool) {
	if a.State != verdict.Running {
		return errReply(errorf(http.StatusConflict, "analysis %s is already decided: %s", a.ID, a.State)), true
	}
	s.mu.Lock()
	s.aborted[a.ID] = true
	s.mu.Unlock()
	err := s.engine.Abort(a.ID, fmt.Sprintf("%s (by %s)", c.Why, c.By))
	if err != nil {
		s.mu.Lock()
		delete(s.aborted, a.ID)
		s.mu.Unlock()
	}
	switch {
	case errors.Is(err, analysis.ErrNotFound):
		return reply{}, false
	case errors.Is(err, analysis.ErrDecided):
		// Decided before the abort (its verdict may not be committed yet): nothing was aborted.
		if err := s.waitDecided(ctx, a.ID); err != nil {
			return errReply(errorf(http.StatusServiceUnavailable, "analysis %s: %v", a.ID, err)), true
		}
		a, e := s.reread(ctx, a.ID)
		if e != nil {
			return errReply(e), true
		}
		return errReply(errorf(http.StatusConflict, "analysis %s is already decided: %s", a.ID, a.State)), true
	case err != nil:
		return errReply(s.internalError(err)), true
	}
	if err := s.waitDecided(ctx, a.ID); err != nil {
		return errReply(errorf(http.StatusServiceUnavailable, "analysis %s: %v", a.ID, err)), true
	}
	if _, err := s.o.Store.AppendAudit(ctx, store.AuditEntry{Analysis: a.ID, Action: "abort", By: c.By, Token: c.Token, Why: c.Why, At: s.now()}); err != nil {
		return errReply(s.internalError(err)), true
	}
	return s.verdictReply(ctx, a.ID), true
}

// override decides an analysis by hand, audited: a running one stops with the person's
// decision; a decided one has its verdict revised, the analysis's own decision kept in it.
// A running one that another replica runs is overridden by that replica (see forward).
func (s *Server) override(w http.ResponseWriter, r *http.Request) {
	var req overrideRequest
	if e := decodeBody(w, r, s.o.MaxBodyBytes, &req); e != nil {
		writeError(w, e)
		return
	}
	var fields []fieldError
	if req.Decision != verdict.Promote && req.Decision != verdict.Rollback {
		fields = append(fields, fieldError{Field: "decision", Message: "want promote or rollback"})
	}
	checkText(&fields, "why", req.Why, true)
	checkText(&fields, "by", req.By, false)
	if len(fields) > 0 {
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Error: "invalid override", Fields: fields})
		return
	}
	a, ok := s.lookup(w, r)
	if !ok {
		return
	}
	by := req.By
	if by == "" {
		by = caller(r.Context())
	}
	s.command(w, r, a, store.Command{Analysis: a.ID, Kind: commandOverride, Decision: req.Decision, By: by, Token: caller(r.Context()), Why: req.Why})
}

// doOverride overrides an analysis this replica runs, or a decided one, and answers the
// verdict; here is false when the analysis is running but not here.
func (s *Server) doOverride(ctx context.Context, a store.Analysis, c store.Command) (rep reply, here bool) {
	s.overrideMu.Lock()
	defer s.overrideMu.Unlock()
	audit := store.AuditEntry{Analysis: a.ID, Action: "override", Decision: c.Decision, By: c.By, Token: c.Token, Why: c.Why, At: s.now()}
	if a.State == verdict.Running {
		if _, err := s.engine.Override(a.ID, c.Decision, c.By, c.Why); errors.Is(err, analysis.ErrNotFound) {
			return reply{}, false
		}
		if err := s.waitDecided(ctx, a.ID); err != nil {
			return errReply(errorf(http.StatusServiceUnavailable, "analysis %s: %v", a.ID, err)), true
		}
		sv, err := s.o.Store.Verdict(ctx, a.ID)
		if err != nil {
			return errReply(s.internalError(err)), true
		}
		var v verdict.Verdict
		if err := json.Unmarshal(sv.Data, &v); err != nil {
			return errReply(s.internalError(err)), true
		}
		if o := v.Override; o != nil && o.Decision == c.Decision && o.By == c.By && o.Why == c.Why {
			// The engine stopped the run with this override: the verdict carries it.
			if _, err := s.o.Store.AppendAudit(ctx, audit); err != nil {
				return errReply(s.internalError(err)), true
			}
			return s.verdictReply(ctx, a.ID), true
		}
		// The run was decided on its own just before: revise that verdict.
	}
	if err := s.revise(ctx, a, audit); err != nil {
		return errReply(s.internalError(err)), true
	}
	return s.verdictReply(ctx, a.ID), true
}

// revise puts an override over a recorded verdict, with its audit entry, an event and the
// deliveries, in one transaction.
func (s *Server) revise(ctx context.Context, a store.Analysis, audit store.AuditEntry) error {
	sv, err := s.o.Store.Verdict(ctx, a.ID)
	if err != nil {
		return err
	}
	var v verdict.Verdict
	if err := json.Unmarshal(sv.Data, &v); err != nil {
		return fmt.Errorf("analysis %s: stored verdict: %w", a.ID, err)
	}
	applyOverride(&v, &verdict.Override{Decision: audit.Decision, By: audit.By, Why: audit.Why, At: audit.At})
	data, err := json.Marshal(&v)
	if err != nil {
		return err
	}
	last, err := s.o.Store.LastSeq(ctx, a.ID)
	if err != nil {
		return err
	}
	ev, err := storeEvent(eventBody{Analysis: a.ID, Seq: last + 1, Time: audit.At, Kind: eventOverride, Phase: v.Phase,
		Message: v.Reason, Override: v.Override}, nop)
	if err != nil {
		return err
	}
	_, msg := verdictEvent(&v)
	outbox := s.deliveries(a, emit.Overridden, audit.At, &v, msg)
	if _, err := s.o.Store.ReviseVerdict(ctx, store.Verdict{Analysis: a.ID, Decision: v.Decision, Data: data}, audit, []store.Event{ev}, outbox); err != nil {
		return err
	}
	if len(outbox) > 0 {
		s.dispatcher.Notify()
	}
	s.metrics.overridden(a, v.Decision)
	s.hub.wake(a.ID)
	return nil
}

// applyOverride puts a person's decision over the verdict, keeping the analysis's own in the
// override (the engine does the same for a running analysis); a later override replaces an
// earlier one.
func applyOverride(v *verdict.Verdict, o *verdict.Override) {
	if v.Override != nil {
		v.Decision, v.Reason = v.Override.Was, v.Override.WasReason
	}
	o.Was, o.WasReason = v.Decision, v.Reason
	v.Override = o
	v.Decision = o.Decision
	v.Reason = fmt.Sprintf("overridden to %s by %s: %s (the analysis said %s: %s)", o.Decision, o.By, o.Why, o.Was, o.WasReason)
}
