package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// Bounds of a start request.
const (
	maxKeyLen    = 256
	maxLabels    = 32
	maxLabelKey  = 63
	maxLabelVal  = 256
	maxEnvs      = 16
	maxURLLen    = 2048
	maxFilterLen = 256
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.\-/]*[A-Za-z0-9])?$`)

// startRequest is the body of POST /api/v1/analyses.
type startRequest struct {
	// Spec names the analysis (metadata.name) among the loaded specs.
	Spec string `json:"spec"`
	// Key makes the start idempotent: the same key returns the same analysis.
	Key string `json:"key,omitempty"`
	// Environments override environment URLs by name.
	Environments map[string]string `json:"environments,omitempty"`
	// Baseline and Candidate override the spec's roles.
	Baseline  string            `json:"baseline,omitempty"`
	Candidate string            `json:"candidate,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Mode is "verify" (the default) or "watch": the watch alone, for a candidate already
	// promoted and serving users (see watch.go).
	Mode string `json:"mode,omitempty"`
	// Watch is how long to watch ("30m"): it overrides policy.watch.
	Watch string `json:"watch,omitempty"`
}

// analysisView is an analysis as the API shows it.
type analysisView struct {
	ID           string                `json:"id"`
	Spec         string                `json:"spec"`
	Key          string                `json:"key,omitempty"`
	Labels       map[string]string     `json:"labels,omitempty"`
	Environments map[string]string     `json:"environments,omitempty"`
	Baseline     string                `json:"baseline,omitempty"`
	Candidate    string                `json:"candidate,omitempty"`
	State        verdict.Decision      `json:"state"`
	Verdict      string                `json:"verdict"`
	Phase        verdict.Phase         `json:"phase,omitempty"`
	Reason       string                `json:"reason,omitempty"`
	CreatedAt    time.Time             `json:"createdAt"`
	UpdatedAt    time.Time             `json:"updatedAt"`
	Checks       []verdict.CheckResult `json:"checks,omitempty"`
	Result       *verdict.Verdict      `json:"result,omitempty"`
	Audit        []auditView           `json:"audit,omitempty"`
	Links        map[string]string     `json:"links"`
}

type auditView struct {
	Action   string           `json:"action"`
	Decision verdict.Decision `json:"decision,omitempty"`
	By       string           `json:"by"`
	Token    string           `json:"token"`
	Why      string           `json:"why"`
	At       time.Time        `json:"at"`
}

// apiVerdict is the verdict field's value: running until decided, and never more than the four
// values a caller such as Argo Rollouts matches on (an interrupted analysis is inconclusive).
func apiVerdict(state verdict.Decision) string {
	switch state {
	case verdict.Running, verdict.Promote, verdict.Rollback:
		return string(state)
	}
	return string(verdict.Inconclusive)
}

// view is a stored analysis as the API shows it; full adds the checks (live while it runs),
// the verdict and the audit log.
func (s *Server) view(r *http.Request, a store.Analysis, full bool) (analysisView, error) {
	v := analysisView{ID: a.ID, Spec: a.Spec, Key: a.Key, Labels: a.Labels, Environments: a.Envs, Baseline: a.Baseline, Candidate: a.Candidate,
		State: a.State, Verdict: apiVerdict(a.State), Phase: a.Phase, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		Links: map[string]string{
			"self":    "/api/v1/analyses/" + a.ID,
			"verdict": "/api/v1/analyses/" + a.ID + "/verdict",
			"events":  "/api/v1/analyses/" + a.ID + "/events",
		}}
	var result *verdict.Verdict
	if a.Verdict != nil {
		result = &verdict.Verdict{}
		if err := json.Unmarshal(a.Verdict, result); err != nil {
			return v, fmt.Errorf("analysis %s: stored verdict: %w", a.ID, err)
		}
		v.Reason, v.Phase = result.Reason, result.Phase
	}
	if !full {
		return v, nil
	}
	if result != nil {
		v.Result, v.Checks = result, result.Checks
	} else if st, err := s.engine.Get(a.ID); err == nil {
		v.Checks = st.Checks
	}
	log, err := s.o.Store.AuditLog(r.Context(), a.ID)
	if err != nil {
		return v, err
	}
	for _, e := range log {
		v.Audit = append(v.Audit, auditView{Action: e.Action, Decision: e.Decision, By: e.By, Token: e.Token, Why: e.Why, At: e.At})
	}
	return v, nil
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	writeError(w, s.internalError(err))
}

// internalError logs err and returns the answer to it: 503 when the store cannot be reached
// (the database is down or failing over: a client or load balancer should try again, here or on
// another replica), else 500.
func (s *Server) internalError(err error) *apiError {
	ctx, cancel := context.WithTimeout(context.Background(), storeProbeTimeout)
	defer cancel()
	if perr := s.o.Store.Ping(ctx); perr != nil {
		s.log.Error("store unavailable", "error", err, "ping", perr)
		e := errorf(http.StatusServiceUnavailable, "store unavailable: %v", perr)
		e.RetryAfter = storeRetryAfter
		return e
	}
	s.log.Error("internal error", "error", err)
	return errorf(http.StatusInternalServerError, "internal error: %v", err)
}

// How long internalError waits for the store to answer a ping, and the Retry-After of a 503.
const (
	storeProbeTimeout = 2 * time.Second
	storeRetryAfter   = 5 // seconds
)

func (s *Server) createAnalysis(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if !s.closing.Load() {
		if e := decodeBody(w, r, s.o.MaxBodyBytes, &req); e != nil {
			writeError(w, e)
			return
		}
	}
	stored, created, e := s.startAnalysis(r.Context(), &req)
	if e != nil {
		writeError(w, e)
		return
	}
	if !created {
		s.answerAnalysis(w, r, http.StatusOK, stored)
		return
	}
	w.Header().Set("Location", "/api/v1/analyses/"+stored.ID)
	s.answerAnalysis(w, r, http.StatusCreated, stored)
}

// startAnalysis starts the analysis a request asks for, or returns the one its key already
// names (created false): checked against the loaded specs, compiled, stored with the
// deliveries announcing its start, then started on the engine.
func (s *Server) startAnalysis(ctx context.Context, req *startRequest) (store.Analysis, bool, *apiError) {
	if s.closing.Load() {
		return store.Analysis{}, false, errorf(http.StatusServiceUnavailable, "greenlight is shutting down")
	}
	a, e := s.validateStart(req)
	if e != nil {
		return store.Analysis{}, false, e
	}
	if req.Key != "" {
		// The same key is the same analysis, whatever else the request says.
		if existing, err := s.o.Store.AnalysisByKey(ctx, req.Key); err == nil {
			return existing, false, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Analysis{}, false, s.internalError(err)
		}
	}
	rec := store.Analysis{ID: newID(), Spec: req.Spec, Key: req.Key, Labels: withMode(req), Envs: req.Environments,
		Baseline: req.Baseline, Candidate: req.Candidate, State: verdict.Running, CreatedAt: s.now()}
	o := s.options(a, rec)
	p, err := analysis.Compile(o)
	if err != nil {
		return store.Analysis{}, false, &apiError{Status: http.StatusUnprocessableEntity, Error: "the analysis cannot start",
			Fields: []fieldError{{Field: "spec", Message: o.Redactor().Redact(strings.TrimPrefix(err.Error(), analysis.ErrInvalid.Error()+": ")), Position: &a.Pos}}}
	}
	outbox := s.deliveries(rec, emit.Started, rec.CreatedAt, nil, "")
	// Claimed here before it is stored, and stored with its lease: no scan for analyses
	// without a lease, this replica's or another's, takes it while it starts.
	s.claimLocal(rec.ID)
	leased := rec
	leased.Owner, leased.LeaseUntil = s.o.Owner, s.now().Add(s.o.LeaseTTL)
	stored, created, err := s.o.Store.CreateAnalysis(ctx, leased, outbox...)
	if err != nil || !created {
		s.endLocal(rec.ID)
		if err != nil {
			return store.Analysis{}, false, s.internalError(err)
		}
		return stored, false, nil
	}
	s.holds(stored.ID)
	if len(outbox) > 0 {
		s.dispatcher.Notify()
	}
	if err := s.startRun(&run{rec: stored, plan: p, redact: o.Redactor().Redact}); err != nil {
		s.endLocal(stored.ID)
		s.release(context.WithoutCancel(ctx), stored.ID)
		// Stored but not started: it starts with the daemon or on another replica.
		return stored, true, errorf(http.StatusServiceUnavailable, "analysis %s is stored but could not start now: %v", stored.ID, err)
	}
	return stored, true, nil
}

func (s *Server) answerAnalysis(w http.ResponseWriter, r *http.Request, status int, a store.Analysis) {
	v, err := s.view(r, a, true)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, status, v)
}

// validateStart checks a start request against the loaded specs: every problem at once, each
// naming its field and, where the spec is involved, the spec's position.
func (s *Server) validateStart(req *startRequest) (*specs.Analysis, *apiError) {
	var fields []fieldError
	add := func(field string, pos *specs.Position, format string, args ...any) {
		fields = append(fields, fieldError{Field: field, Message: fmt.Sprintf(format, args...), Position: pos})
	}
	a := s.specs.Load().Analysis(req.Spec)
	switch {
	case req.Spec == "":
		add("spec", nil, "required: the name of an analysis (%s)", s.specNames())
	case a == nil:
		add("spec", nil, "no analysis named %q (have %s)", req.Spec, s.specNames())
	}
	if len(req.Key) > maxKeyLen {
		add("key", nil, "longer than %d characters", maxKeyLen)
	}
	if len(req.Labels) > maxLabels {
		add("labels", nil, "more than %d labels", maxLabels)
	}
	for _, k := range sortedKeys(req.Labels) {
		if len(k) > maxLabelKey || !nameRE.MatchString(k) {
			add("labels."+k, nil, "a label name is letters, digits and _ . - /, at most %d characters", maxLabelKey)
		}
		if len(req.Labels[k]) > maxLabelVal {
			add("labels."+k, nil, "longer than %d characters", maxLabelVal)
		}
	}
	if len(req.Environments) > maxEnvs {
		add("environments", nil, "more than %d environments", maxEnvs)
	}
	envPos := func(name string) *specs.Position {
		if a == nil {
			return nil
		}
		if e, ok := a.Environments[name]; ok && e.Pos.Line > 0 {
			return &e.Pos
		}
		return &a.Pos
	}
	for _, name := range sortedKeys(req.Environments) {
		raw := req.Environments[name]
		u, err := url.Parse(raw)
		switch {
		case !nameRE.MatchString(name) || len(name) > maxLabelKey:
			add("environments."+name, nil, "an environment name is letters, digits and _ . - /")
		case len(raw) > maxURLLen:
			add("environments."+name, envPos(name), "longer than %d characters", maxURLLen)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			add("environments."+name, envPos(name), "not an http(s) URL")
		case u.User != nil:
			add("environments."+name, envPos(name), "credentials in a URL would be stored with the analysis: put them in the spec (environments.%s.headers, from a secret)", name)
		}
	}
	if a != nil {
		base, cand := pick(req.Baseline, a.Baseline), pick(req.Candidate, a.Candidate)
		for _, role := range []struct{ field, name, role string }{{"baseline", base, "baseline"}, {"candidate", cand, "candidate"}} {
			_, inSpec := a.Environments[role.name]
			u, inReq := req.Environments[role.name]
			switch {
			case role.name == "":
				add(role.field, &a.Pos, "the spec names no %s: give one", role.role)
			case !inSpec && !inReq:
				add(role.field, &a.Pos, "%q is not an environment (have %s)", role.name, strings.Join(sortedKeys(a.Environments), ", "))
			case a.Environments[role.name].URL == "" && u == "":
				add("environments."+role.name, envPos(role.name), "environment %s (%s) has no URL: set it in the spec or give it here", role.name, role.role)
			}
		}
		if base != "" && base == cand {
			add("candidate", &a.Pos, "baseline and candidate are both %q", base)
		}
	}
	validateMode(req, a, add)
	if len(fields) > 0 {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Error: "invalid analysis request", Fields: fields}
	}
	return a, nil
}

func pick(override, spec string) string {
	if override != "" {
		return override
	}
	return spec
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) specNames() string {
	var names []string
	for _, a := range s.specs.Load().Analyses {
		names = append(names, a.Metadata.Name)
	}
	if len(names) == 0 {
		return "none loaded"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (s *Server) getAnalysis(w http.ResponseWriter, r *http.Request) {
	a, ok := s.lookup(w, r)
	if ok {
		s.answerAnalysis(w, r, http.StatusOK, a)
	}
}

// lookup reads the analysis of the path's {id}, answering 404 when there is none.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (store.Analysis, bool) {
	id := r.PathValue("id")
	a, err := s.o.Store.Analysis(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, errorf(http.StatusNotFound, "no analysis %q", id))
		return a, false
	case err != nil:
		s.internal(w, err)
		return a, false
	}
	return a, true
}

// listResponse is a page of analyses; next, when set, is the cursor of the next page.
type listResponse struct {
	Analyses []analysisView `json:"analyses"`
	Next     string         `json:"next,omitempty"`
}

func (s *Server) listAnalyses(w http.ResponseWriter, r *http.Request) {
	page, ok := s.listPage(w, r)
	if !ok {
		return
	}
	out := listResponse{Analyses: []analysisView{}, Next: page.Next}
	for _, a := range page.Analyses {
		v, err := s.view(r, a, false)
		if err != nil {
			s.internal(w, err)
			return
		}
		out.Analyses = append(out.Analyses, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// listPage reads the page of analyses the query asks for (state, spec, label, limit, cursor),
// answering 400 when the query is invalid.
func (s *Server) listPage(w http.ResponseWriter, r *http.Request) (store.Page, bool) {
	q := r.URL.Query()
	query := store.Query{Spec: q.Get("spec"), After: q.Get("cursor")}
	var fields []fieldError
	if st := q.Get("state"); st != "" {
		switch verdict.Decision(st) {
		case verdict.Running, verdict.Promote, verdict.Rollback, verdict.Inconclusive, verdict.Interrupted:
			query.State = verdict.Decision(st)
		default:
			fields = append(fields, fieldError{Field: "state", Message: "want running, promote, rollback, inconclusive or interrupted"})
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxPageSize {
			fields = append(fields, fieldError{Field: "limit", Message: fmt.Sprintf("want a number from 1 to %d", store.MaxPageSize)})
		}
		query.Limit = n
	}
	labels := q["label"]
	if len(labels) > maxLabels {
		fields = append(fields, fieldError{Field: "label", Message: fmt.Sprintf("at most %d label filters", maxLabels)})
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" || len(l) > maxFilterLen {
			fields = append(fields, fieldError{Field: "label", Message: fmt.Sprintf("%q: want NAME=VALUE", l)})
			continue
		}
		if query.Labels == nil {
			query.Labels = map[string]string{}
		}
		query.Labels[k] = v
	}
	if len(query.Spec) > maxFilterLen || len(query.After) > maxFilterLen {
		fields = append(fields, fieldError{Field: "spec", Message: "too long"})
	}
	if len(fields) > 0 {
		writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query", Fields: fields})
		return store.Page{}, false
	}
	page, err := s.o.Store.ListAnalyses(r.Context(), query)
	if err != nil {
		if query.After != "" {
			writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query", Fields: []fieldError{{Field: "cursor", Message: err.Error()}}})
			return store.Page{}, false
		}
		s.internal(w, err)
		return store.Page{}, false
	}
	return page, true
}
