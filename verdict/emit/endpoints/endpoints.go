// Package endpoints is the registry of emitter kinds: it builds each configured endpoint's
// emitter from its kind's name ("webhook", "slack", "codedeploy") and the routes that say which events go
// where. Spec validation checks kind names against Kinds; adding an integration is one
// subpackage of emit plus one line here.
package endpoints

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
	"github.com/greenlight/greenlight/verdict/emit/slack"
	"github.com/greenlight/greenlight/verdict/emit/webhook"
)

// Config is one endpoint as configured, whatever its kind.
type Config struct {
	Name string
	Kind string // a key of Kinds
	URL  secret.Secret
	// Events are the event types it receives (none: all).
	Events  []emit.EventType
	Secrets []secret.Secret          // webhook only
	Headers map[string]secret.Secret // webhook only
	Timeout time.Duration
}

// Options are shared by every endpoint.
type Options struct {
	Client    *http.Client
	UserAgent string
}

// Factory builds one kind's emitter.
type Factory func(Config, Options) (emit.Emitter, error)

// Kinds maps each kind's name, as written in configuration, to its factory.
var Kinds = map[string]Factory{
	"webhook": func(c Config, o Options) (emit.Emitter, error) {
		return webhook.New(webhook.Config{Name: c.Name, URL: c.URL, Secrets: c.Secrets, Headers: c.Headers, Timeout: c.Timeout},
			webhook.Options{Client: o.Client, UserAgent: o.UserAgent})
	},
	"slack": func(c Config, o Options) (emit.Emitter, error) {
		if len(c.Secrets) > 0 || len(c.Headers) > 0 {
			return nil, fmt.Errorf("slack %q: an incoming webhook takes no secrets or headers (its URL is the credential)", c.Name)
		}
		return slack.New(slack.Config{Name: c.Name, URL: c.URL, Timeout: c.Timeout}, slack.Options{Client: o.Client, UserAgent: o.UserAgent})
	},
	// The URL is optional: it replaces the service's endpoint (the AWS SDK's BaseEndpoint).
	"codedeploy": func(c Config, o Options) (emit.Emitter, error) {
		if len(c.Secrets) > 0 || len(c.Headers) > 0 {
			return nil, fmt.Errorf("codedeploy %q: takes no secrets or headers (credentials come from the AWS SDK's chain)", c.Name)
		}
		return codedeploy.New(codedeploy.Config{Name: c.Name, Endpoint: c.URL, Timeout: c.Timeout}, codedeploy.Options{Client: o.Client})
	},
}

// KindNames lists the kinds, sorted, for error messages and schemas.
func KindNames() []string {
	out := make([]string, 0, len(Kinds))
	for k := range Kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Build makes every endpoint's emitter, keyed by name for emit.Options.Emitters, and the
// routes for emit.Fanout. It reports every invalid endpoint, not only the first.
func Build(cfgs []Config, o Options) (map[string]emit.Emitter, []emit.Route, error) {
	emitters := make(map[string]emit.Emitter, len(cfgs))
	var routes []emit.Route
	var errs []error
	for i, c := range cfgs {
		where := fmt.Sprintf("endpoint %d (%q)", i+1, c.Name)
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("endpoint %d: no name", i+1))
			continue
		}
		if _, dup := emitters[c.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
			continue
		}
		f, ok := Kinds[c.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown kind %q (want one of %s)", where, c.Kind, strings.Join(KindNames(), ", ")))
			continue
		}
		for _, t := range c.Events {
			if !t.Valid() {
				errs = append(errs, fmt.Errorf("%s: unknown event type %q", where, t))
			}
		}
		em, err := f(c, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		emitters[c.Name] = em
		routes = append(routes, emit.Route{Endpoint: c.Name, Events: c.Events})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return emitters, routes, nil
}
