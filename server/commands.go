package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// Kinds of commands.
const (
	commandAbort    = "abort"
	commandOverride = "override"
)

// DefaultCommandWait is how long a replica asked to abort or override an analysis another
// replica runs waits for that replica's answer before it answers 202 Accepted.
const DefaultCommandWait = 30 * time.Second

// commandRunLimit bounds the carrying out of the pending commands of one analysis.
const commandRunLimit = time.Minute

// reply is an answer of the API: a status and its JSON body.
type reply struct {
	status int
	body   any
}

func errReply(e *apiError) reply { return reply{status: e.Status, body: e} }

// reread reads an analysis again, or the error that answers it.
func (s *Server) reread(ctx context.Context, id string) (store.Analysis, *apiError) {
	a, err := s.o.Store.Analysis(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return a, errorf(http.StatusNotFound, "no analysis %q", id)
	case err != nil:
		return a, s.internalError(err)
	}
	return a, nil
}

// verdictReply answers an analysis's verdict as GET …/verdict does.
func (s *Server) verdictReply(ctx context.Context, id string) reply {
	a, e := s.reread(ctx, id)
	if e != nil {
		return errReply(e)
	}
	v, err := s.verdictView(ctx, a)
	if err != nil {
		return errReply(s.internalError(err))
	}
	return reply{status: http.StatusOK, body: v}
}

// carryOut carries a command out on this replica; here is false when the analysis is running
// but another replica runs it.
func (s *Server) carryOut(ctx context.Context, a store.Analysis, c store.Command) (reply, bool) {
	switch c.Kind {
	case commandAbort:
		return s.doAbort(ctx, a, c)
	case commandOverride:
		return s.doOverride(ctx, a, c)
	}
	return errReply(errorf(http.StatusInternalServerError, "internal error: command %d: unknown kind %q", c.ID, c.Kind)), true
}

// command answers an abort or override: carried out here when this replica runs the analysis
// (or it is decided), else by the replica that does.
func (s *Server) command(w http.ResponseWriter, r *http.Request, a store.Analysis, c store.Command) {
	rep, here := s.carryOut(r.Context(), a, c)
	if !here {
		rep = s.forward(r.Context(), c)
	}
	writeJSON(w, rep.status, rep.body)
}

// accepted is the answer of a command that was not carried out in time.
type accepted struct {
	ID      string            `json:"id"`
	Command int64             `json:"command"`
	Status  string            `json:"status"`
	Message string            `json:"message"`
	Links   map[string]string `json:"links"`
}

// forward stores a command for the replica that runs the analysis, which hears of it, carries
// it out and stores its answer; this replica waits for that answer (up to CommandWait or the
// request) and gives it as its own. One taken over from a replica that died is carried out by
// the replica that takes it over, once it has resumed it; one whose analysis is decided before
// any replica took it is carried out here (a decided analysis is overridden on any replica).
// Without commands in the store (SQLite: one daemon), the analysis runs nowhere: 409.
func (s *Server) forward(ctx context.Context, c store.Command) reply {
	cs, ok := s.o.Store.(store.Commands)
	if !ok {
		return errReply(errorf(http.StatusConflict, "analysis %s is not running on this daemon", c.Analysis))
	}
	c.Created = s.now()
	c, err := cs.AddCommand(ctx, c)
	if err != nil {
		return errReply(s.internalError(err))
	}
	if s.o.forwarded != nil {
		s.o.forwarded(c)
	}
	wait, cancel := context.WithTimeout(ctx, s.o.CommandWait)
	defer cancel()
	for {
		done, decided := s.commandCh(c.ID), s.decidedCh(c.Analysis)
		got, err := cs.Command(wait, c.ID)
		if err == nil {
			c.TakenBy = got.TakenBy
		}
		if err == nil && !got.DoneAt.IsZero() {
			return reply{status: got.Status, body: got.Result}
		}
		if err == nil && got.TakenBy == "" {
			if a, err := s.o.Store.Analysis(wait, c.Analysis); err == nil && a.State != verdict.Running {
				if rep, ok := s.runCommand(wait, a, got); ok {
					return rep
				}
			}
		}
		select {
		case <-done:
		case <-decided:
		case <-wait.Done():
			return s.accepted(c)
		case <-s.stop:
			return s.accepted(c)
		}
	}
}

// accepted answers a command not carried out yet: 202, and where to look.
func (s *Server) accepted(c store.Command) reply {
	status, msg := "pending", fmt.Sprintf("the %s is stored for the replica that runs analysis %s, which carries it out when it hears of it (or when it takes the analysis over); its verdict says when", c.Kind, c.Analysis)
	if c.TakenBy != "" {
		status, msg = "taken", fmt.Sprintf("replica %s is carrying out the %s of analysis %s; its verdict says when it is done", c.TakenBy, c.Kind, c.Analysis)
	}
	return reply{status: http.StatusAccepted, body: accepted{ID: c.Analysis, Command: c.ID, Status: status, Message: msg,
		Links: map[string]string{"analysis": "/api/v1/analyses/" + c.Analysis, "verdict": "/api/v1/analyses/" + c.Analysis + "/verdict"}}}
}

// runCommand takes a command and carries it out here; false when another replica took it
// first, or it could not be taken.
func (s *Server) runCommand(ctx context.Context, a store.Analysis, c store.Command) (reply, bool) {
	cs := s.o.Store.(store.Commands)
	took, err := cs.TakeCommand(ctx, c.ID, s.o.Owner)
	if err != nil {
		s.log.Error("cannot take a command", "analysis", c.Analysis, "command", c.ID, "error", err)
		return reply{}, false
	}
	if !took {
		return reply{}, false
	}
	rep, here := s.carryOut(ctx, a, c)
	if !here {
		rep = errReply(errorf(http.StatusServiceUnavailable, "analysis %s stopped on the replica that ran it before the %s was carried out: ask again", c.Analysis, c.Kind))
	}
	body, err := encodeJSON(rep.body)
	if err == nil {
		// Recorded even when the wait is over: the caller may be another replica.
		err = cs.FinishCommand(context.WithoutCancel(ctx), c.ID, s.o.Owner, rep.status, body, s.now())
	}
	if err != nil {
		s.log.Error("cannot record a command's answer", "analysis", c.Analysis, "command", c.ID, "error", err)
	}
	s.wakeCommand(c.ID)
	return rep, true
}

// encodeJSON encodes v as writeJSON does: the caller's replica answers the same bytes.
func encodeJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// runCommands carries out the pending commands of an analysis this replica runs.
func (s *Server) runCommands(id string) {
	cs, ok := s.o.Store.(store.Commands)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandRunLimit)
	defer cancel()
	pending, err := cs.PendingCommands(ctx, id)
	if err != nil {
		s.log.Error("cannot read the pending commands", "analysis", id, "error", err)
		return
	}
	for _, c := range pending {
		if _, err := s.engine.Get(id); err != nil {
			return // it does not run here (any more)
		}
		a, err := s.o.Store.Analysis(ctx, id)
		if err != nil {
			s.log.Error("cannot read an analysis", "analysis", id, "error", err)
			return
		}
		if _, ok := s.runCommand(ctx, a, c); ok {
			s.log.Info("carried out a command asked of another replica", "analysis", id, "command", c.ID, "kind", c.Kind, "by", c.By)
		}
	}
}

// runsHere says whether this replica runs the analysis.
func (s *Server) runsHere(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leases.local[id] && !s.leases.lost[id]
}

// localAnalyses are the analyses this replica runs.
func (s *Server) localAnalyses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.leases.local))
	for id := range s.leases.local {
		if !s.leases.lost[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// commandCh is closed when the store tells of a change of the command (or may have missed
// one). Take it before reading the store, then wait on it.
func (s *Server) commandCh(id int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.commands[id]
	if !ok {
		ch = make(chan struct{})
		s.commands[id] = ch
	}
	return ch
}

// wakeCommand wakes whoever waits for a command (0: every command).
func (s *Server) wakeCommand(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ch := range s.commands {
		if id == 0 || k == id {
			close(ch)
			delete(s.commands, k)
		}
	}
}
