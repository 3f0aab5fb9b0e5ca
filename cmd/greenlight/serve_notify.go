package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/endpoints"
)

// minLease is the shortest claim on a delivery: an attempt in flight when the daemon dies is
// made again once its claim runs out.
const minLease = 10 * time.Second

// notifications builds the daemon's deliveries from the loaded Notifications document: each
// endpoint's emitter from its kind in the registry (endpoints.Kinds), the routes, the retry
// policy and the dispatcher's lease. Every problem is reported, each at its endpoint's
// position; an analysis's notify naming an endpoint that is not configured is one too.
func notifications(ctx context.Context, docs *specs.Documents, externalURL string) (*server.Notifications, emit.Options, error) {
	ns := docs.Notifications
	var problems []string
	if err := docs.NotifyErrors(); err != nil {
		problems = append(problems, err.Error())
	}
	cfgs, err := endpointConfigs(ns)
	if err != nil {
		problems = append(problems, err.Error())
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if nw, ok := ctx.Value(networkKey{}).(network); ok {
		transport.DialContext = nw.DialContext
	}
	opts := endpoints.Options{Client: &http.Client{Transport: transport}, UserAgent: "greenlight/" + appVersion()}
	if len(problems) > 0 {
		return nil, emit.Options{}, invalid("invalid notifications:\n%s", strings.Join(problems, "\n"))
	}
	emitters, routes, err := endpoints.Build(cfgs, opts)
	if err != nil {
		return nil, emit.Options{}, invalid("invalid notifications:\n%v", err)
	}
	n := &server.Notifications{Emitters: emitters, Redactor: ns.Redactor()}
	if externalURL != "" {
		n.Links.API = strings.TrimRight(externalURL, "/") + "/api/v1/analyses/{id}"
	}
	for i, r := range routes {
		n.Endpoints = append(n.Endpoints, server.Endpoint{Route: r, AllAnalyses: ns.Endpoints[i].AllAnalyses})
	}
	policy, lease := emit.DefaultPolicy(), minLease
	if ns != nil {
		r := ns.Retry
		policy.MinBackoff = orDefault(r.MinBackoff.D(), policy.MinBackoff)
		policy.MaxBackoff = orDefault(r.MaxBackoff.D(), max(policy.MaxBackoff, policy.MinBackoff))
		policy.MaxAge = orDefault(r.MaxAge.D(), policy.MaxAge)
		if r.MaxAttempts > 0 {
			policy.MaxAttempts = r.MaxAttempts
		}
		if err := policy.Validate(); err != nil {
			return nil, emit.Options{}, invalid("invalid notifications:\n%s: retry: %v", ns.Pos, err)
		}
		for _, c := range cfgs {
			lease = max(lease, 2*orDefault(c.Timeout, 15*time.Second))
		}
	}
	return n, emit.Options{Policy: policy, Lease: lease}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// endpointConfigs turns the document's endpoints into the registry's configurations, checking
// each on its own so that a problem names its endpoint's position.
func endpointConfigs(ns *specs.Notifications) ([]endpoints.Config, error) {
	if ns == nil {
		return nil, nil
	}
	var (
		out      []endpoints.Config
		problems []string
	)
	for _, e := range ns.Endpoints {
		c := endpoints.Config{Name: e.Name, Kind: e.Kind, URL: e.URL, Secrets: e.Secrets, Headers: e.Headers, Timeout: e.Timeout.D()}
		for _, name := range e.Events {
			t, err := emit.ParseEventType(name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: endpoint %s: %v", e.Pos, e.Name, err))
				continue
			}
			c.Events = append(c.Events, t)
		}
		// Build checks the kind against the registry and the kind's own rules (an http(s) URL,
		// secrets long enough, headers a configuration may set) without sending anything.
		if _, _, err := endpoints.Build([]endpoints.Config{c}, endpoints.Options{Client: &http.Client{}}); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				problems = append(problems, fmt.Sprintf("%s: %s", e.Pos, strings.TrimPrefix(line, `endpoint 1 ("`+e.Name+`"): `)))
			}
			continue
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		return nil, errors.New(ns.Redactor().Redact(strings.Join(problems, "\n")))
	}
	return out, nil
}

// checkExternalURL checks --external-url: the daemon's address as webhook receivers and
// people reach it, to link to in payloads.
func checkExternalURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("--external-url %q: want an absolute http or https URL, such as https://greenlight.example.com", redactURL(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalid("--external-url %q: want a URL without credentials, query or fragment (it is put in every payload)", redactURL(raw))
	}
	return nil
}
