package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
)

// DefaultTimeout bounds one attempt when the configuration sets none.
const DefaultTimeout = 15 * time.Second

// Config is one Slack incoming webhook.
type Config struct {
	// Name identifies the endpoint in deliveries, logs and errors.
	Name string
	// URL is the incoming webhook's URL, which is its credential.
	URL secret.Secret
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
}

// Options are what the caller provides besides the configuration.
type Options struct {
	// Client sends the requests (a client of its own when nil); redirects are not followed.
	Client *http.Client
	// UserAgent is sent as User-Agent ("greenlight" when empty).
	UserAgent string
}

// Notifier posts deliveries to one incoming webhook. It implements emit.Emitter.
type Notifier struct {
	name    string
	url     string
	timeout time.Duration
	client  *http.Client
	ua      string
	redact  *secret.Redactor
}

var _ emit.Emitter = (*Notifier)(nil)

// New checks the configuration and returns the endpoint's notifier.
func New(c Config, o Options) (*Notifier, error) {
	if c.Name == "" {
		return nil, errors.New("slack: an endpoint needs a name")
	}
	raw := strings.TrimSpace(c.URL.Reveal())
	if err := emit.CheckURL(raw); err != nil {
		return nil, fmt.Errorf("slack %q: %w", c.Name, err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("slack %q: timeout must not be negative, got %s", c.Name, c.Timeout)
	}
	n := &Notifier{name: c.Name, url: raw, timeout: c.Timeout, ua: o.UserAgent, redact: secret.NewRedactor(emit.URLSecrets(raw)...)}
	if n.timeout == 0 {
		n.timeout = DefaultTimeout
	}
	if n.ua == "" {
		n.ua = "greenlight"
	}
	client := &http.Client{}
	if o.Client != nil {
		cp := *o.Client
		client = &cp
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n.client = client
	return n, nil
}

// Emit formats the delivery's payload as a Block Kit message and posts it. A payload that
// cannot be read is not retried: it would fail the same way every time.
func (n *Notifier) Emit(ctx context.Context, d emit.Delivery) (bool, error) {
	p, err := emit.Decode(d.Payload)
	if err != nil {
		return false, n.fail(err)
	}
	body, err := json.Marshal(Format(p))
	if err != nil {
		return false, n.fail(fmt.Errorf("encode message: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return false, n.fail(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", n.ua)
	resp, err := n.client.Do(req)
	if err != nil {
		return true, n.fail(emit.TransportError(err))
	}
	defer emit.Discard(resp)
	retry, err := emit.CheckResponse(resp)
	if err != nil {
		return retry, n.fail(err)
	}
	return false, nil
}

func (n *Notifier) fail(err error) error { return emit.EndpointError("slack", n.name, n.redact, err) }
