package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// boardRow is one analysis as the dashboard's list shows it: a line's worth, with every
// check's latest outcome (the page finds the one closest to failing).
type boardRow struct {
	ID        string              `json:"id"`
	Spec      string              `json:"spec"`
	Key       string              `json:"key,omitempty"`
	Labels    map[string]string   `json:"labels,omitempty"`
	Baseline  verdict.Environment `json:"baseline"`
	Candidate verdict.Environment `json:"candidate"`
	State     verdict.Decision    `json:"state"`
	Verdict   string              `json:"verdict"`
	Phase     verdict.Phase       `json:"phase,omitempty"`
	Reason    string              `json:"reason,omitempty"`
	// Waiting: decided inconclusive and not overridden — a person must promote or roll back.
	Waiting   bool       `json:"waiting,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	DecidedAt *time.Time `json:"decidedAt,omitempty"`
	// ElapsedMs is how long a running analysis has been in its phase, LimitMs that phase's
	// limit; for a decided one, ElapsedMs is start to verdict.
	ElapsedMs int64                 `json:"elapsedMs"`
	LimitMs   int64                 `json:"limitMs,omitempty"`
	Checks    []verdict.CheckResult `json:"checks"`
	Override  *verdict.Override     `json:"override,omitempty"`
}

type boardPage struct {
	Analyses []boardRow `json:"analyses"`
	Next     string     `json:"next,omitempty"`
	// LastEventID is the newest event stored before the lines were read: GET /api/v1/events
	// after it brings every change since.
	LastEventID int64 `json:"lastEventId"`
}

// board answers the dashboard's list: the page of analyses GET /api/v1/analyses would, one
// line each.
func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	last, err := s.newestEventID(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	page, ok := s.listPage(w, r)
	if !ok {
		return
	}
	out := boardPage{Analyses: []boardRow{}, Next: page.Next, LastEventID: last}
	for _, a := range page.Analyses {
		row, err := s.boardRow(r.Context(), a)
		if err != nil {
			s.internal(w, err)
			return
		}
		out.Analyses = append(out.Analyses, row)
	}
	writeJSON(w, http.StatusOK, out)
}

// newestEventID is the id of the newest stored event (0 when there is none). Ids only grow, so
// "an event follows x" holds for every x below the newest id and none from it on: a search
// with one-row reads finds it in about 2·log2(id) of them.
func (s *Server) newestEventID(ctx context.Context) (int64, error) {
	follows := func(x int64) (bool, error) {
		evs, err := s.o.Store.AllEventsAfter(ctx, x, 1)
		return len(evs) > 0, err
	}
	lo, hi := int64(-1), int64(0) // an event follows lo (-1: none known yet); none follows hi
	for {
		ok, err := follows(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, max(hi*2, 1)
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := follows(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

func (s *Server) boardRow(ctx context.Context, a store.Analysis) (boardRow, error) {
	row := boardRow{ID: a.ID, Spec: a.Spec, Key: a.Key, Labels: a.Labels, State: a.State, Verdict: apiVerdict(a.State),
		Phase: a.Phase, CreatedAt: a.CreatedAt, Checks: []verdict.CheckResult{}}
	row.Baseline, row.Candidate = s.roles(a)
	if a.Verdict == nil {
		if st, err := s.engine.Get(a.ID); err == nil {
			row.Phase, row.ElapsedMs, row.LimitMs = st.Phase, st.Elapsed.Milliseconds(), st.Limit.Milliseconds()
			if st.Checks != nil {
				row.Checks = st.Checks
			}
		}
		return row, nil
	}
	var v verdict.Verdict
	if err := json.Unmarshal(a.Verdict, &v); err != nil {
		return row, fmt.Errorf("analysis %s: stored verdict: %w", a.ID, err)
	}
	row.Reason, row.Phase, row.Override = v.Reason, v.Phase, v.Override
	if v.Checks != nil {
		row.Checks = v.Checks
	}
	if v.Baseline.Name != "" {
		row.Baseline, row.Candidate = v.Baseline, v.Candidate
	}
	row.Waiting = a.State == verdict.Inconclusive
	sv, err := s.o.Store.Verdict(ctx, a.ID)
	if err != nil {
		return row, err
	}
	at := sv.At
	row.DecidedAt, row.ElapsedMs = &at, at.Sub(a.CreatedAt).Milliseconds()
	return row, nil
}

// roles names an analysis's baseline and candidate with their URLs: those it was started
// with, or its spec's.
func (s *Server) roles(a store.Analysis) (base, cand verdict.Environment) {
	base.Name, cand.Name = a.Baseline, a.Candidate
	spec := s.specs.Load().Analysis(a.Spec)
	if spec != nil {
		base.Name, cand.Name = pick(a.Baseline, spec.Baseline), pick(a.Candidate, spec.Candidate)
	}
	for _, e := range []*verdict.Environment{&base, &cand} {
		e.URL = a.Envs[e.Name]
		if e.URL == "" && spec != nil {
			if env, ok := spec.Environments[e.Name]; ok {
				e.URL = env.URL
			}
		}
	}
	return base, cand
}

// tokenView says who the request's token is and what it may do, so that the dashboard offers
// only the actions the token allows.
type tokenView struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// Tokens is false when the daemon has no tokens: every request may do everything.
	Tokens bool `json:"tokens"`
}

func (s *Server) tokenInfo(w http.ResponseWriter, r *http.Request) {
	if s.o.Tokens.Len() == 0 {
		writeJSON(w, http.StatusOK, tokenView{Name: caller(r.Context()), Scope: ScopeAdmin.String()})
		return
	}
	// authorize let the request through: the token is valid.
	tok, _, _ := s.o.Tokens.authenticate(r.Header.Get("Authorization"))
	writeJSON(w, http.StatusOK, tokenView{Name: tok.Name, Scope: tok.Scope.String(), Tokens: true})
}
