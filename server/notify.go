package server

import (
	"context"
	"slices"
	"time"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// Notifications say where the daemon delivers analyses' events. The deliveries are enqueued in
// the store in the transaction that records what they announce (the start, the verdict, the
// override), and sent by the server's Dispatcher, which retries them until they are delivered
// or dead.
type Notifications struct {
	// Endpoints are the configured endpoints: each one's name and events, and whether every
	// analysis notifies it (otherwise only those whose spec names it in notify).
	Endpoints []Endpoint
	// Emitters send each endpoint's deliveries, by name.
	Emitters map[string]emit.Emitter
	// Links are where payloads point (the API, a dashboard).
	Links emit.LinkTemplates
	// Redactor knows the endpoints' credentials: delivery errors shown by the API pass through
	// it (the emitters already keep them out; this holds if one did not).
	Redactor *secret.Redactor
}

// Endpoint is one configured endpoint's subscription.
type Endpoint struct {
	emit.Route
	AllAnalyses bool
}

// SetNotifications replaces the endpoints (a configuration reload): events from now on go to
// the new ones, deliveries not yet made are made by the new emitters (one to an endpoint no
// longer configured fails and is retried until it comes back or is dead).
func (s *Server) SetNotifications(n *Notifications) {
	if n == nil {
		n = &Notifications{}
	}
	s.notifications.Store(n)
	s.dispatcher.SetEmitters(n.Emitters)
}

// notifyRoutes are the endpoints an analysis of the spec notifies, as configured now.
func (s *Server) notifyRoutes(spec string) []emit.Route {
	n := s.notifications.Load()
	if n == nil || len(n.Endpoints) == 0 {
		return nil
	}
	var named []string
	if a := s.specs.Load().Analysis(spec); a != nil {
		named = a.Notify
	}
	var out []emit.Route
	for _, e := range n.Endpoints {
		if e.AllAnalyses || slices.Contains(named, e.Endpoint) {
			out = append(out, e.Route)
		}
	}
	return out
}

// deliveries are the deliveries of one event of an analysis to the endpoints that want it:
// one payload, redacted with the analysis's secrets, with one id for every endpoint. v is the
// verdict (nil for a start), msg free text (who aborted, and why). None when no endpoint wants
// the event; a payload that cannot be built is logged and not sent.
func (s *Server) deliveries(rec store.Analysis, t emit.EventType, at time.Time, v *verdict.Verdict, msg string) []store.Delivery {
	return s.eventDeliveries(rec, emit.Event{Type: t, Time: at, Verdict: v, Message: msg})
}

// eventDeliveries are the deliveries of an event whose analysis and links are filled in here.
func (s *Server) eventDeliveries(rec store.Analysis, e emit.Event) []store.Delivery {
	t, at, v := e.Type, e.Time, e.Verdict
	var routes []emit.Route
	for _, r := range s.notifyRoutes(rec.Spec) {
		if r.Wants(t) {
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		return nil
	}
	a, rd := s.emitAnalysis(rec, v)
	e.Analysis = a
	payload, err := emit.Encode(e, s.notifications.Load().Links, rd)
	if err != nil {
		s.log.Error("cannot build an event's payload: it is not delivered", "analysis", rec.ID, "event", string(t), "error", err)
		return nil
	}
	return store.Deliveries(rec.ID, emit.Fanout(emit.NewID(at), t, at, payload, routes))
}

// emitAnalysis identifies the analysis in a payload, and returns the redactor of its secrets:
// its spec's (as loaded now) and those of the URLs it was started with.
func (s *Server) emitAnalysis(rec store.Analysis, v *verdict.Verdict) (emit.Analysis, *secret.Redactor) {
	out := emit.Analysis{ID: rec.ID, Spec: rec.Spec, Labels: rec.Labels, StartedAt: rec.CreatedAt}
	spec := s.specs.Load().Analysis(rec.Spec)
	rd := secret.NewRedactor()
	if spec != nil {
		rd = s.options(spec, rec).Redactor()
	} else {
		for _, u := range rec.Envs {
			rd.Add(specs.URLSecrets(u)...)
		}
	}
	if v != nil {
		out.Baseline, out.Candidate = v.Baseline, v.Candidate
		return out, rd
	}
	env := func(role, fromSpec string) verdict.Environment {
		name := pick(role, fromSpec)
		e := verdict.Environment{Name: name, URL: rec.Envs[name]}
		if e.URL == "" && spec != nil {
			e.URL = spec.Environments[name].URL
		}
		return e
	}
	if spec != nil {
		out.Baseline, out.Candidate = env(rec.Baseline, spec.Baseline), env(rec.Candidate, spec.Candidate)
	} else {
		out.Baseline, out.Candidate = env(rec.Baseline, ""), env(rec.Candidate, "")
	}
	return out, rd
}

// verdictEvent is the event a recorded verdict announces.
func verdictEvent(v *verdict.Verdict) (emit.EventType, string) {
	switch {
	case v.Override != nil:
		return emit.Overridden, "overridden to " + string(v.Override.Decision) + " by " + v.Override.By + ": " + v.Override.Why
	case v.Decision == verdict.Interrupted:
		return emit.Aborted, v.Reason
	case v.Phase == verdict.PhaseWatch && v.Decision == verdict.Rollback:
		return emit.WatchRegression, ""
	}
	return emit.Decided, ""
}

// runDispatcher delivers until Shutdown.
func (s *Server) runDispatcher() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopDispatch = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		_ = s.dispatcher.Run(ctx)
	}()
}

// countingOutbox counts the dispatcher's outcomes for /metrics as it records them.
type countingOutbox struct {
	emit.Outbox
	m        *metrics
	recorded func(emit.Key, string)
}

func (o countingOutbox) count(k emit.Key, outcome string) {
	o.m.attempt(k.Endpoint, outcome)
	if o.recorded != nil {
		o.recorded(k, outcome)
	}
}

func (o countingOutbox) MarkDelivered(ctx context.Context, k emit.Key, attempts int, at time.Time) error {
	err := o.Outbox.MarkDelivered(ctx, k, attempts, at)
	if err == nil {
		o.count(k, "delivered")
	}
	return err
}

func (o countingOutbox) MarkFailed(ctx context.Context, k emit.Key, f emit.Failure) error {
	err := o.Outbox.MarkFailed(ctx, k, f)
	if err == nil {
		outcome := "failed"
		if f.Dead {
			outcome = "dead"
		}
		o.count(k, outcome)
	}
	return err
}
