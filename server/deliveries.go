package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/greenlight/greenlight/store"
)

// deliveryView is a delivery as the API shows it: where it stands, never its endpoint's URL,
// secrets or headers (the store has none of them), nor its payload.
type deliveryView struct {
	ID       int64  `json:"id"`
	Analysis string `json:"analysis"`
	// Event is the event's id: the webhook-id header, the same on every attempt.
	Event     string    `json:"event"`
	Type      string    `json:"type"`
	Endpoint  string    `json:"endpoint"`
	Timestamp time.Time `json:"timestamp"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	// Since is when its retry window began: enqueued, or redelivered by hand.
	Since       time.Time  `json:"since"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	DoneAt      *time.Time `json:"doneAt,omitempty"`
	// EndpointDisabled says why a pending delivery is held: its endpoint answered 410 Gone.
	EndpointDisabled string            `json:"endpointDisabled,omitempty"`
	Links            map[string]string `json:"links"`
}

type deliveryList struct {
	Deliveries []deliveryView `json:"deliveries"`
	Next       string         `json:"next,omitempty"`
}

func (s *Server) deliveryView(d store.Delivery, disabled map[string]string) deliveryView {
	v := deliveryView{ID: d.ID, Analysis: d.Analysis, Event: d.EventID, Type: d.Type, Endpoint: d.Target, Timestamp: d.Timestamp,
		State: string(d.State), Attempts: d.Attempts, LastError: d.LastError, Since: d.Since,
		Links: map[string]string{
			"analysis":   "/api/v1/analyses/" + d.Analysis,
			"redeliver":  "/api/v1/deliveries/" + strconv.FormatInt(d.ID, 10) + "/redeliver",
			"deliveries": "/api/v1/analyses/" + d.Analysis + "/deliveries",
		}}
	if rd := s.notifications.Load().Redactor; rd != nil {
		v.LastError = rd.Redact(v.LastError)
	}
	switch d.State {
	case store.DeliveryPending:
		next := d.NextAttempt
		v.NextAttempt = &next
		if reason, ok := disabled[d.Target]; ok {
			v.EndpointDisabled = reason
		}
	default:
		done := d.DoneAt
		v.DoneAt = &done
	}
	return v
}

// listDeliveries answers GET /api/v1/deliveries and GET /api/v1/analyses/{id}/deliveries:
// newest first, filtered by analysis, state and endpoint, a page at a time.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fields []fieldError
	dq := store.DeliveryQuery{Analysis: q.Get("analysis"), State: store.DeliveryState(q.Get("state")), Target: q.Get("endpoint"), After: q.Get("cursor")}
	if id := r.PathValue("id"); id != "" {
		if _, ok := s.lookup(w, r); !ok {
			return
		}
		dq.Analysis = id
	}
	switch dq.State {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead:
	default:
		fields = append(fields, fieldError{Field: "state", Message: fmt.Sprintf("%q: want pending, delivered or dead", dq.State)})
	}
	for _, f := range []struct{ name, v string }{{"analysis", dq.Analysis}, {"endpoint", dq.Target}, {"cursor", dq.After}} {
		if len(f.v) > maxFilterLen {
			fields = append(fields, fieldError{Field: f.name, Message: fmt.Sprintf("longer than %d characters", maxFilterLen)})
		}
	}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > store.MaxPageSize {
			fields = append(fields, fieldError{Field: "limit", Message: fmt.Sprintf("%q: want 1 to %d", raw, store.MaxPageSize)})
		}
		dq.Limit = n
	}
	if dq.After != "" {
		if n, err := strconv.ParseInt(dq.After, 10, 64); err != nil || n <= 0 {
			fields = append(fields, fieldError{Field: "cursor", Message: "not a cursor this API gave"})
		}
	}
	if len(fields) > 0 {
		writeError(w, &apiError{Status: http.StatusBadRequest, Error: "invalid query", Fields: fields})
		return
	}
	page, err := s.o.Store.ListDeliveries(r.Context(), dq)
	if err != nil {
		s.internal(w, err)
		return
	}
	disabled, err := s.o.Store.DisabledEndpoints(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	out := deliveryList{Deliveries: make([]deliveryView, 0, len(page.Deliveries)), Next: page.Next}
	for _, d := range page.Deliveries {
		out.Deliveries = append(out.Deliveries, s.deliveryView(d, disabled))
	}
	writeJSON(w, http.StatusOK, out)
}

// redeliver makes a delivered or dead delivery pending again, due now, with a new retry
// window: the operator fixed the receiver (or wants a message again). Audited.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, errorf(http.StatusNotFound, "no delivery %q", r.PathValue("id")))
		return
	}
	d, err := s.o.Store.Delivery(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, errorf(http.StatusNotFound, "no delivery %d", id))
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	if d.State == store.DeliveryPending {
		writeError(w, errorf(http.StatusConflict, "delivery %d is pending: it is made at its next attempt, %s", id, d.NextAttempt.Format(time.RFC3339)))
		return
	}
	now := s.now()
	if err := s.o.Store.Redeliver(r.Context(), d.Key(), now); err != nil {
		s.internal(w, err)
		return
	}
	if _, err := s.o.Store.AppendAudit(r.Context(), store.AuditEntry{Analysis: d.Analysis, Action: "redeliver", By: caller(r.Context()), Token: caller(r.Context()),
		Why: fmt.Sprintf("delivery %d (%s to %s, %s after %d attempts)", id, d.Type, d.Target, d.State, d.Attempts), At: now}); err != nil {
		s.log.Error("cannot audit a redelivery", "delivery", id, "error", err)
	}
	s.dispatcher.Notify()
	s.answerDelivery(w, r, id)
}

func (s *Server) answerDelivery(w http.ResponseWriter, r *http.Request, id int64) {
	d, err := s.o.Store.Delivery(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return
	}
	disabled, err := s.o.Store.DisabledEndpoints(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.deliveryView(d, disabled))
}

// endpointView is an endpoint's state after enabling it.
type endpointView struct {
	Endpoint string `json:"endpoint"`
	Enabled  bool   `json:"enabled"`
	// WasDisabled is why it had been disabled ("" when it was not).
	WasDisabled string `json:"wasDisabled,omitempty"`
	Configured  bool   `json:"configured"`
}

// enableEndpoint lets a disabled endpoint's deliveries be sent again.
func (s *Server) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	disabled, err := s.o.Store.DisabledEndpoints(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	configured := false
	for _, e := range s.notifications.Load().Endpoints {
		configured = configured || e.Endpoint == name
	}
	reason, wasDisabled := disabled[name]
	if !configured && !wasDisabled {
		writeError(w, errorf(http.StatusNotFound, "no endpoint named %q is configured or disabled", name))
		return
	}
	if wasDisabled {
		if err := s.o.Store.EnableEndpoint(r.Context(), name); err != nil {
			s.internal(w, err)
			return
		}
		s.log.Info("endpoint enabled by hand", "endpoint", name, "token", caller(r.Context()), "was", reason)
		s.dispatcher.Notify()
	}
	writeJSON(w, http.StatusOK, endpointView{Endpoint: name, Enabled: true, WasDisabled: reason, Configured: configured})
}
