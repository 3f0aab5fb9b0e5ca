package specs

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Notifications is the daemon's delivery configuration: the endpoints analyses' events are sent
// to (signed webhooks, Slack) and the retry policy they share. At most one is loaded; an
// Analysis names the endpoints it notifies in notify, and an endpoint with allAnalyses gets
// every analysis's events.
//
// Endpoint kinds (webhook, slack) are checked by greenlight serve and validate against the
// emitter registry, which this package does not know; event names are checked here.
type Notifications struct {
	APIVersion string     `yaml:"apiVersion" doc:"Always greenlight/v1."`
	Kind       string     `yaml:"kind" doc:"Notifications."`
	Metadata   Metadata   `yaml:"metadata"`
	Retry      Retry      `yaml:"retry,omitempty" doc:"When failed deliveries are tried again, and when they are given up; one policy for every endpoint."`
	Endpoints  []Endpoint `yaml:"endpoints" doc:"Where events are delivered."`

	File string   `yaml:"-"`
	Pos  Position `yaml:"-"`
}

// Retry is the delivery retry policy; a zero field takes its default.
type Retry struct {
	MinBackoff  Duration `yaml:"minBackoff,omitempty" doc:"The first retry waits a random time up to this (default 5s); each later one up to twice as long as the one before."`
	MaxBackoff  Duration `yaml:"maxBackoff,omitempty" doc:"The longest wait between two attempts (default 1h)."`
	MaxAttempts int      `yaml:"maxAttempts,omitempty" doc:"A delivery is given up (dead) after this many attempts (default 20)."`
	MaxAge      Duration `yaml:"maxAge,omitempty" doc:"... or when its next attempt would come this long after the event (default 24h)."`
	Pos         Position `yaml:"-"`
}

// Endpoint is one receiver of events.
type Endpoint struct {
	Name        string            `yaml:"name" doc:"Names the endpoint in notify, deliveries, logs and errors (which never show its URL)."`
	Kind        string            `yaml:"kind" doc:"The integration: webhook (signed JSON, Standard Webhooks) or slack (an incoming webhook)."`
	URL         Secret            `yaml:"url" doc:"Where to POST (http or https). Treated as a secret: webhook URLs often carry a token."`
	Secrets     []Secret          `yaml:"secrets,omitempty" doc:"webhook: signing secrets, whsec_<base64> or raw, at least 16 bytes; list the new one too while rotating. None: unsigned."`
	Headers     map[string]Secret `yaml:"headers,omitempty" doc:"webhook: headers added to every request; values are secrets."`
	Events      []string          `yaml:"events,omitempty" doc:"The events to send, short (decided) or full (analysis.decided) names; none: every event."`
	Timeout     Duration          `yaml:"timeout,omitempty" doc:"One attempt's limit (default 15s)."`
	AllAnalyses bool              `yaml:"allAnalyses,omitempty" doc:"Send every analysis's events here, whether or not its notify names this endpoint."`
	Pos         Position          `yaml:"-"`
}

// EventNames are the events an endpoint may subscribe to, by their short names; the full name
// is "analysis." and the short one. They are verdict/emit's event types (a test holds the two
// lists equal).
var EventNames = []string{"started", "smoke_done", "decided", "watch_regression", "aborted", "overridden"}

// EventName returns the short name of an event as configured (short or full), and whether it
// is one.
func EventName(s string) (string, bool) {
	short := strings.TrimPrefix(s, "analysis.")
	for _, n := range EventNames {
		if short == n {
			return n, true
		}
	}
	return "", false
}

// Endpoint returns the endpoint with the given name, or nil.
func (ns *Notifications) Endpoint(name string) *Endpoint {
	if ns == nil {
		return nil
	}
	for i := range ns.Endpoints {
		if ns.Endpoints[i].Name == name {
			return &ns.Endpoints[i]
		}
	}
	return nil
}

// Redactor returns a redactor for every credential of the endpoints: URLs, signing secrets and
// header values.
func (ns *Notifications) Redactor() *Redactor {
	rd := NewRedactor()
	if ns == nil {
		return rd
	}
	for _, e := range ns.Endpoints {
		rd.Add(e.URL)
		rd.Add(URLSecrets(string(e.URL))...)
		rd.Add(e.Secrets...)
		for _, v := range e.Headers {
			// Every value is a credential, whatever the header's name: "Bearer abc" and abc.
			rd.Add(v)
			rd.Add(HeaderSecrets("Authorization", string(v))...)
		}
	}
	return rd
}

func (ns *Notifications) decodeNode(d *decoder, n *yaml.Node) {
	d.structValue(n, reflectValue(ns).Elem(), nil)
	ns.Pos = d.pos(n)
}

// maxEndpoints bounds a Notifications document.
const maxEndpoints = 64

func (ns *Notifications) validate(d *decoder, n *yaml.Node) {
	at := func(key string) Position {
		if v := mappingValue(n, key); v != nil {
			return d.pos(v)
		}
		return ns.Pos
	}
	if ns.APIVersion != APIVersion {
		d.errs.add(at("apiVersion"), "apiVersion must be %q, got %q", APIVersion, ns.APIVersion)
	}
	if ns.Metadata.Name == "" {
		if !d.meant(at("metadata"), "name") {
			d.errs.add(at("metadata"), "metadata.name is required")
		}
	} else if !nameRe.MatchString(ns.Metadata.Name) {
		d.errs.add(ns.Metadata.Pos, "metadata.name %q may use letters, digits, '.', '_' and '-' only", ns.Metadata.Name)
	}
	r := ns.Retry
	for _, f := range []struct {
		name string
		v    Duration
	}{{"minBackoff", r.MinBackoff}, {"maxBackoff", r.MaxBackoff}, {"maxAge", r.MaxAge}} {
		if f.v < 0 {
			d.errs.add(at("retry"), "retry.%s must not be negative", f.name)
		}
	}
	if r.MaxAttempts < 0 {
		d.errs.add(at("retry"), "retry.maxAttempts must not be negative")
	}
	if r.MinBackoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.MinBackoff {
		d.errs.add(at("retry"), "retry.maxBackoff (%s) is shorter than retry.minBackoff (%s)", r.MaxBackoff, r.MinBackoff)
	}
	if len(ns.Endpoints) > maxEndpoints {
		d.errs.add(at("endpoints"), "%d endpoints: at most %d", len(ns.Endpoints), maxEndpoints)
	}
	var items []*yaml.Node
	if v := mappingValue(n, "endpoints"); v != nil && v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	seen := map[string]Position{}
	for i := range ns.Endpoints {
		e := &ns.Endpoints[i]
		where := fmt.Sprintf("endpoint %d", i+1)
		switch {
		case e.Name == "":
			d.errs.add(e.Pos, "%s has no name", where)
		case !nameRe.MatchString(e.Name):
			d.errs.add(e.Pos, "endpoint name %q may use letters, digits, '.', '_' and '-' only", e.Name)
		default:
			if first, dup := seen[e.Name]; dup {
				d.errs.add(e.Pos, "duplicate endpoint name %q (first at %s)", e.Name, first)
			}
			seen[e.Name] = e.Pos
			where = "endpoint " + e.Name
		}
		if e.Kind == "" {
			d.errs.add(e.Pos, "%s: kind is required (webhook, slack)", where)
		}
		if e.URL == "" {
			d.errs.add(e.Pos, "%s: url is required", where)
		}
		if e.Timeout < 0 {
			d.errs.add(e.Pos, "%s: timeout must not be negative", where)
		}
		var events []*yaml.Node
		if i < len(items) {
			if v := mappingValue(items[i], "events"); v != nil && v.Kind == yaml.SequenceNode {
				events = v.Content
			}
		}
		for j, ev := range e.Events {
			if _, ok := EventName(ev); !ok {
				pos := e.Pos
				if j < len(events) {
					pos = d.pos(events[j])
				}
				d.errs.add(pos, "%s: unknown event %q (want one of %s)", where, ev, strings.Join(EventNames, ", "))
			}
		}
	}
}

// NotifyErrors checks that every endpoint an analysis's notify names is one of the loaded
// Notifications' endpoints. Load checks it when a Notifications document is loaded; the daemon,
// which delivers, also when none is.
func (ds *Documents) NotifyErrors() error {
	var errs Errors
	for _, a := range ds.Analyses {
		for i, name := range a.Notify {
			pos := a.Pos
			if i < len(a.notifyPos) {
				pos = a.notifyPos[i]
			}
			switch {
			case ds.Notifications == nil:
				errs.add(pos, "notify: no Notifications document is loaded, so there is no endpoint %q", name)
			case ds.Notifications.Endpoint(name) == nil:
				var names []string
				for _, e := range ds.Notifications.Endpoints {
					names = append(names, e.Name)
				}
				errs.add(pos, "notify: no endpoint named %q in %s (have: %s)", name, ds.Notifications.Pos, strings.Join(names, ", "))
			}
		}
	}
	return errs.err()
}

// validateNotify checks an analysis's notify list on its own, keeping each name's position.
func (a *Analysis) validateNotify(d *decoder, n *yaml.Node) {
	a.notifyPos = nil
	v := mappingValue(n, "notify")
	if v == nil || v.Kind != yaml.SequenceNode {
		return
	}
	seen := map[string]bool{}
	for i, item := range v.Content {
		a.notifyPos = append(a.notifyPos, d.pos(item))
		if i >= len(a.Notify) {
			continue
		}
		switch name := a.Notify[i]; {
		case name == "":
			d.errs.add(d.pos(item), "notify: an empty endpoint name")
		case seen[name]:
			d.errs.add(d.pos(item), "notify: endpoint %q is named twice", name)
		}
		seen[a.Notify[i]] = true
	}
}

// eventNameEnum lists every way to write an event name, for the schema.
func eventNameEnum() []string {
	var out []string
	for _, n := range EventNames {
		out = append(out, n, "analysis."+n)
	}
	return out
}
