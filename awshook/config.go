package awshook

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
)

// Defaults of Config.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultCallbackDelay = 30 * time.Second
	DefaultMaxErrors     = 3
)

// maxOwnLabels leaves room, under the daemon's 32 labels, for the ones the hook adds.
const maxOwnLabels = 28

// Config is what every invocation starts its analysis with.
type Config struct {
	// URL is the daemon's base URL (https://greenlight.internal:8080).
	URL string
	// Token is an API token with the write scope.
	Token secret.Secret
	// Spec names the Analysis to start (its metadata.name).
	Spec string
	// Environments override environment URLs by name (the production and test listeners);
	// Baseline and Candidate override the spec's roles.
	Environments        map[string]string
	Baseline, Candidate string
	// Labels are added to every analysis, besides the ones naming the hook.
	Labels map[string]string
	// Mode is the start's mode: "" or "verify" (the smoke gate, the comparison, then
	// policy.watch), or "watch": the watch alone, for the hook after the traffic switch
	// (CodeDeploy's AfterAllowTraffic), which then answers when the watch ends — Succeeded with
	// no regression, Failed at the first one. Watch, when set, is how long (it overrides
	// policy.watch; the daemon refuses mode watch without either).
	Mode  string
	Watch time.Duration
	// Timeout bounds one request to the daemon.
	Timeout time.Duration
	// CallbackDelay is how long ECS waits before invoking the hook again while the analysis
	// runs; MaxErrors is how many invocations in a row may fail to reach the daemon before the
	// hook answers FAILED.
	CallbackDelay time.Duration
	MaxErrors     int
}

// The environment variables FromEnv reads.
const (
	EnvURL           = "GREENLIGHT_URL"
	EnvToken         = "GREENLIGHT_TOKEN"
	EnvSpec          = "GREENLIGHT_SPEC"
	EnvEnvironments  = "GREENLIGHT_ENVIRONMENTS"
	EnvBaseline      = "GREENLIGHT_BASELINE"
	EnvCandidate     = "GREENLIGHT_CANDIDATE"
	EnvLabels        = "GREENLIGHT_LABELS"
	EnvMode          = "GREENLIGHT_MODE"
	EnvWatch         = "GREENLIGHT_WATCH"
	EnvTimeout       = "GREENLIGHT_TIMEOUT"
	EnvCallbackDelay = "GREENLIGHT_ECS_CALLBACK_DELAY"
	EnvMaxErrors     = "GREENLIGHT_ECS_MAX_ERRORS"
)

// FromEnv reads the configuration from the function's environment, reporting every problem.
func FromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		URL: strings.TrimSpace(getenv(EnvURL)), Token: secret.Secret(strings.TrimSpace(getenv(EnvToken))),
		Spec: strings.TrimSpace(getenv(EnvSpec)), Baseline: strings.TrimSpace(getenv(EnvBaseline)),
		Candidate: strings.TrimSpace(getenv(EnvCandidate)),
		Mode:      strings.TrimSpace(getenv(EnvMode)),
		Timeout:   DefaultTimeout, CallbackDelay: DefaultCallbackDelay, MaxErrors: DefaultMaxErrors,
	}
	var err error
	if c.Environments, err = pairs(getenv(EnvEnvironments)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvEnvironments, err))
	}
	if c.Labels, err = pairs(getenv(EnvLabels)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvLabels, err))
	}
	duration := func(name string, into *time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (10s, 1m)", name, v))
				return
			}
			*into = d
		}
	}
	duration(EnvTimeout, &c.Timeout)
	duration(EnvWatch, &c.Watch)
	duration(EnvCallbackDelay, &c.CallbackDelay)
	if v := strings.TrimSpace(getenv(EnvMaxErrors)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", EnvMaxErrors, v))
		} else {
			c.MaxErrors = n
		}
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// pairs reads "a=1,b=2".
func pairs(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not NAME=VALUE (pairs are separated by commas)", item)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%q is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// Validate reports every problem of the configuration (the daemon checks the rest: the
// spec's name, the environments' names and URLs).
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%s: the daemon's URL is required", EnvURL))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("%s: not an http(s) URL", EnvURL))
	case u.User != nil:
		errs = append(errs, fmt.Errorf("%s: no credentials in the URL: set %s", EnvURL, EnvToken))
	}
	if c.Spec == "" {
		errs = append(errs, fmt.Errorf("%s: the name of the Analysis to start is required", EnvSpec))
	}
	if len(c.Labels) > maxOwnLabels {
		errs = append(errs, fmt.Errorf("%s: at most %d labels (the hook adds its own)", EnvLabels, maxOwnLabels))
	}
	switch c.Mode {
	case "", "verify", "watch":
	default:
		errs = append(errs, fmt.Errorf("%s: %q: want verify or watch", EnvMode, c.Mode))
	}
	if c.Watch < 0 {
		errs = append(errs, fmt.Errorf("%s: must be positive, got %s", EnvWatch, c.Watch))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%s: must be positive, got %s", EnvTimeout, c.Timeout))
	}
	if c.CallbackDelay < time.Second {
		errs = append(errs, fmt.Errorf("%s: at least 1s, got %s", EnvCallbackDelay, c.CallbackDelay))
	}
	if c.MaxErrors < 1 {
		errs = append(errs, fmt.Errorf("%s: at least 1, got %d", EnvMaxErrors, c.MaxErrors))
	}
	return errors.Join(errs...)
}

// watch is the start's watch field.
func (c Config) watch() string {
	if c.Watch <= 0 {
		return ""
	}
	return c.Watch.String()
}

// labels returns the configured labels with the hook's own, which win.
func (c Config) labels(own map[string]string) map[string]string {
	out := make(map[string]string, len(c.Labels)+len(own))
	for k, v := range c.Labels {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
