package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
)

// DefaultTimeout bounds one attempt when the configuration sets none; Standard Webhooks
// suggests 15 to 30 seconds.
const DefaultTimeout = 15 * time.Second

// Config is one webhook endpoint.
type Config struct {
	// Name identifies the endpoint in deliveries, logs and errors — which never show its URL.
	Name string
	// URL receives the POSTs. It is a secret: a webhook URL often carries a token.
	URL secret.Secret
	// Secrets sign each delivery (whsec_<base64> or raw, at least 16 bytes); with two or more,
	// each request carries one signature per secret, for rotation. None: unsigned.
	Secrets []secret.Secret
	// Headers are added to every request (an Authorization for the receiver's gateway); their
	// values are secrets. They cannot replace the Standard Webhooks headers or Content-Type.
	Headers map[string]secret.Secret
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
}

// Options are what the caller provides besides the configuration.
type Options struct {
	// Client sends the requests (a client of its own when nil). Redirects are never
	// followed, whatever the client's policy: a 3xx is a failed attempt.
	Client *http.Client
	// Now is the clock of the webhook-timestamp header (time.Now when nil).
	Now func() time.Time
	// UserAgent is sent as User-Agent ("greenlight" when empty).
	UserAgent string
}

// Notifier sends deliveries to one endpoint. It implements emit.Emitter.
type Notifier struct {
	name    string
	url     string
	signer  *Signer
	headers http.Header
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
	ua      string
	redact  *secret.Redactor
}

var _ emit.Emitter = (*Notifier)(nil)

// reserved are the headers a configuration cannot set.
var reserved = []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Content-Type", "Content-Length", "Host"}

// New checks the configuration and returns the endpoint's notifier.
func New(c Config, o Options) (*Notifier, error) {
	if c.Name == "" {
		return nil, errors.New("webhook: an endpoint needs a name")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("webhook %q: %s", c.Name, fmt.Sprintf(format, args...))
	}
	raw := strings.TrimSpace(c.URL.Reveal())
	if err := emit.CheckURL(raw); err != nil {
		return nil, fail("%v", err)
	}
	if c.Timeout < 0 {
		return nil, fail("timeout must not be negative, got %s", c.Timeout)
	}
	n := &Notifier{
		name: c.Name, url: raw, timeout: c.Timeout, headers: http.Header{}, now: o.Now, ua: o.UserAgent,
		redact: secret.NewRedactor(emit.URLSecrets(raw)...),
	}
	if n.timeout == 0 {
		n.timeout = DefaultTimeout
	}
	if len(c.Secrets) > 0 {
		signer, err := NewSigner(c.Secrets...)
		if err != nil {
			return nil, fail("%v", err)
		}
		n.signer = signer
		n.redact.Add(c.Secrets...)
	}
	for k, v := range c.Headers {
		ck := http.CanonicalHeaderKey(strings.TrimSpace(k))
		for _, r := range reserved {
			if ck == r {
				return nil, fail("header %s is set by greenlight and cannot be configured", ck)
			}
		}
		if !validName(ck) {
			return nil, fail("header %q: invalid name", ck)
		}
		if strings.ContainsAny(v.Reveal(), "\r\n\x00") {
			return nil, fail("header %s: a value cannot hold a line break or NUL", ck)
		}
		n.headers.Set(ck, v.Reveal())
		n.redact.Add(v)
		n.redact.Add(secret.HeaderValues(ck, v.Reveal())...)
	}
	client := &http.Client{}
	if o.Client != nil {
		cp := *o.Client
		client = &cp
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n.client = client
	if n.now == nil {
		n.now = time.Now
	}
	if n.ua == "" {
		n.ua = "greenlight"
	}
	return n, nil
}

// validName reports whether s is an HTTP header name: a token of RFC 9110.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Emit makes one attempt: a signed POST of the delivery's payload.
func (n *Notifier) Emit(ctx context.Context, d emit.Delivery) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(d.Payload))
	if err != nil {
		return false, n.fail(err)
	}
	for k, v := range n.headers {
		req.Header[k] = v
	}
	ts := n.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.ua)
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	if n.signer != nil {
		req.Header.Set("webhook-signature", n.signer.Sign(d.ID, ts, d.Payload))
	}
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

func (n *Notifier) fail(err error) error { return emit.EndpointError("webhook", n.name, n.redact, err) }
