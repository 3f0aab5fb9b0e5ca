package datadog

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"

	"github.com/greenlight/greenlight/specs"
)

// Config is how to reach Datadog. Zero values take the defaults named on each field.
type Config struct {
	APIKey specs.Secret // empty → DD_API_KEY
	AppKey specs.Secret // empty → DD_APP_KEY
	// Site is the Datadog site (datadoghq.com, datadoghq.eu, us5.datadoghq.com, …); the API is
	// at https://api.<site>. Empty → DD_SITE, else datadoghq.com.
	Site string
	// BaseURL (scheme://host[:port]) replaces https://api.<site>: a proxy, or a test server.
	BaseURL    string
	Timeout    time.Duration // per request (default 10s)
	MaxRetries int           // retries of a request answered 429 or 5xx (default 3; negative: none)
	// MaxWait bounds any wait before a retry, a rate limit's reset or a backoff (default 30s); a
	// longer one fails the Fetch as retryable instead, leaving it to a later tick.
	MaxWait time.Duration
	// Backoff is the first wait after a 5xx, doubled after each further one (default 1s).
	Backoff    time.Duration
	HTTPClient *http.Client // default: a new client; redirects are never followed
}

const (
	defaultSite       = "datadoghq.com"
	defaultTimeout    = 10 * time.Second
	defaultMaxRetries = 3
	defaultMaxWait    = 30 * time.Second
	defaultBackoff    = time.Second
)

// Source queries one Datadog organisation.
type Source struct {
	baseURL    string
	v1         *datadogV1.MetricsApi
	v2         *datadogV2.MetricsApi
	redact     *specs.Redactor
	log        *slog.Logger
	timeout    time.Duration
	maxRetries int
	maxWait    time.Duration
	backoff    time.Duration
}

// New returns a source for cfg. lookupEnv reads DD_API_KEY, DD_APP_KEY and DD_SITE where cfg
// leaves them empty (nil: os.LookupEnv); logger may be nil.
func New(cfg Config, lookupEnv func(string) (string, bool), logger *slog.Logger) (*Source, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	apiKey, err := key(cfg.APIKey, "DD_API_KEY", "API key", lookupEnv)
	if err != nil {
		return nil, err
	}
	appKey, err := key(cfg.AppKey, "DD_APP_KEY", "application key", lookupEnv)
	if err != nil {
		return nil, err
	}
	base, err := baseURL(cfg, lookupEnv)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(base) // baseURL checked it

	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	// Datadog's API does not redirect; following one would carry the keys to another host.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Transport = &authTransport{next: hc.Transport, host: u.Host, apiKey: apiKey, appKey: appKey}

	conf := datadog.NewConfiguration()
	conf.HTTPClient = hc
	conf.Servers = datadog.ServerConfigurations{{URL: base}}
	conf.UserAgent = "greenlight " + conf.UserAgent
	conf.RetryConfiguration.EnableRetry = false // retries are ours: bounded by ctx, logged, counted
	conf.Debug = false                          // its dumps would go to the global logger
	client := datadog.NewAPIClient(conf)

	s := &Source{
		baseURL:    base,
		v1:         datadogV1.NewMetricsApi(client),
		v2:         datadogV2.NewMetricsApi(client),
		redact:     specs.NewRedactor(apiKey, appKey),
		log:        logger.With("source", "datadog"),
		timeout:    orDefault(cfg.Timeout, defaultTimeout),
		maxRetries: cfg.MaxRetries,
		maxWait:    orDefault(cfg.MaxWait, defaultMaxWait),
		backoff:    orDefault(cfg.Backoff, defaultBackoff),
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = defaultMaxRetries
	case s.maxRetries < 0:
		s.maxRetries = 0
	}
	return s, nil
}

// BaseURL is where requests go, e.g. https://api.datadoghq.eu.
func (s *Source) BaseURL() string { return s.baseURL }

func key(v specs.Secret, envName, what string, lookupEnv func(string) (string, bool)) (specs.Secret, error) {
	if v != "" {
		return v, nil
	}
	if e, ok := lookupEnv(envName); ok && strings.TrimSpace(e) != "" {
		return specs.Secret(strings.TrimSpace(e)), nil
	}
	return "", fmt.Errorf("datadog: no %s: configure one or set %s", what, envName)
}

func baseURL(cfg Config, lookupEnv func(string) (string, bool)) (string, error) {
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("datadog: base URL %q: want scheme://host[:port]", cfg.BaseURL)
		}
		return u.Scheme + "://" + u.Host, nil
	}
	site, from := cfg.Site, "site"
	if site == "" {
		if v, ok := lookupEnv("DD_SITE"); ok && strings.TrimSpace(v) != "" {
			site, from = strings.TrimSpace(v), "DD_SITE"
		}
	}
	if site == "" {
		site = defaultSite
	}
	switch {
	case strings.Contains(site, "://") || strings.ContainsAny(site, "/ ?#@"):
		return "", fmt.Errorf("datadog: %s %q: want a site such as datadoghq.eu, not a URL (use a base URL for that)", from, site)
	case strings.HasPrefix(site, "api.") || strings.HasPrefix(site, "app."):
		return "", fmt.Errorf("datadog: %s %q: want the site (%s), not a host on it", from, site, site[4:])
	}
	return "https://api." + site, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// authTransport puts the keys on the wire, and only towards the configured host.
type authTransport struct {
	next           http.RoundTripper
	host           string
	apiKey, appKey specs.Secret
}

var errWrongHost = errors.New("request to a host other than the configured Datadog API")

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errWrongHost
	}
	req = req.Clone(req.Context())
	req.Header.Set("DD-API-KEY", t.apiKey.Reveal())
	req.Header.Set("DD-APPLICATION-KEY", t.appKey.Reveal())
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}
