package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// Name is the plugin's name: in argo-rollouts-config's metricProviderPlugins and as the key of
// a metric's provider.plugin.
const Name = "greenlight/greenlight"

// Defaults and bounds of a Config.
const (
	DefaultTokenEnv     = "GREENLIGHT_TOKEN"
	DefaultPollInterval = 10 * time.Second
	DefaultTimeout      = 10 * time.Second
	maxConfigBytes      = 64 << 10
	maxKeyLen           = 256
)

// Config is a metric's provider.plugin["greenlight/greenlight"].
type Config struct {
	// Address is greenlight serve's URL as the Argo Rollouts controller reaches it.
	Address string `json:"address"`
	// TokenEnv names the controller's environment variable holding an API token of scope
	// write (default GREENLIGHT_TOKEN). Unset, requests carry no token.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// CAFile is a PEM file of the certificates to trust for an https Address, instead of the
	// system's.
	CAFile string `json:"caFile,omitempty"`
	// Spec names the Analysis to run (its metadata.name among the daemon's specs).
	Spec string `json:"spec"`
	// Key makes the start idempotent (default: argo-rollouts/NAMESPACE/ANALYSISRUN/METRIC).
	Key string `json:"key,omitempty"`
	// Environments, Baseline, Candidate and Labels are the start's overrides (docs/serve.md).
	Environments map[string]string `json:"environments,omitempty"`
	Baseline     string            `json:"baseline,omitempty"`
	Candidate    string            `json:"candidate,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// Mode is the start's mode: verify (the default) or watch — the watch alone, for a
	// postPromotionAnalysis; Watch is how long, overriding the spec's policy.watch.
	Mode  string   `json:"mode,omitempty"`
	Watch Duration `json:"watch,omitempty"`
	// PollInterval is how long Argo waits before it asks again while the analysis runs (default
	// 10s, 1s to 10m).
	PollInterval Duration `json:"pollInterval,omitempty"`
	// Timeout bounds each request to the daemon (default 10s, at most 1m).
	Timeout Duration `json:"timeout,omitempty"`
}

// Duration is a time.Duration written as "10s".
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"10s\": %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// configOf reads and checks the metric's plugin configuration, with its defaults applied.
func configOf(metric v1alpha1.Metric) (Config, error) {
	raw, ok := metric.Provider.Plugin[Name]
	if !ok {
		return Config{}, fmt.Errorf("metric %q has no provider.plugin[%q]", metric.Name, Name)
	}
	if len(raw) > maxConfigBytes {
		return Config{}, fmt.Errorf("metric %q: provider.plugin[%q] is larger than %d bytes", metric.Name, Name, maxConfigBytes)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("metric %q: provider.plugin[%q]: %w", metric.Name, Name, err)
	}
	if c.TokenEnv == "" {
		c.TokenEnv = DefaultTokenEnv
	}
	if c.PollInterval == 0 {
		c.PollInterval = Duration(DefaultPollInterval)
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	var problems []string
	u, err := url.Parse(c.Address)
	switch {
	case c.Address == "":
		problems = append(problems, "address: required (greenlight serve's URL)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, fmt.Sprintf("address: %q is not an http(s) URL", c.Address))
	case u.User != nil:
		problems = append(problems, "address: no credentials in the URL: the token comes from tokenEnv")
	}
	if strings.TrimSpace(c.Spec) == "" {
		problems = append(problems, "spec: required (the name of an Analysis the daemon has loaded)")
	}
	switch c.Mode {
	case "", "verify", "watch":
	default:
		problems = append(problems, fmt.Sprintf("mode: %q: want verify or watch", c.Mode))
	}
	if c.Watch < 0 {
		problems = append(problems, fmt.Sprintf("watch: %s is not above zero", time.Duration(c.Watch)))
	}
	if len(c.Key) > maxKeyLen {
		problems = append(problems, fmt.Sprintf("key: longer than %d characters", maxKeyLen))
	}
	if p := time.Duration(c.PollInterval); p < time.Second || p > 10*time.Minute {
		problems = append(problems, fmt.Sprintf("pollInterval: %s is not between 1s and 10m", p))
	}
	if to := time.Duration(c.Timeout); to < time.Second || to > time.Minute {
		problems = append(problems, fmt.Sprintf("timeout: %s is not between 1s and 1m", to))
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("metric %q: provider.plugin[%q]: %w", metric.Name, Name, errors.New(strings.Join(problems, "; ")))
	}
	return c, nil
}

// watch is the start's watch field: "" when not set.
func (c Config) watch() string {
	if c.Watch <= 0 {
		return ""
	}
	return time.Duration(c.Watch).String()
}

// key is the configured idempotency key, or one per AnalysisRun and metric.
func (c Config) key(run *v1alpha1.AnalysisRun, metric v1alpha1.Metric) string {
	if c.Key != "" {
		return c.Key
	}
	return "argo-rollouts/" + run.Namespace + "/" + run.Name + "/" + metric.Name
}
