package main

import (
	"net/url"
	"strings"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// parseVars turns NAME=VALUE flags into a map.
func parseVars(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, invalid("--var %q: want NAME=VALUE", f)
		}
		out[k] = v
	}
	return out, nil
}

// parseTargets reads --target URL or --env NAME=URL flags, keeping their order.
func parseTargets(target string, envs []string) ([]smoke.Target, error) {
	if target != "" && len(envs) > 0 {
		return nil, invalid("use either --target or --env, not both")
	}
	if target != "" {
		envs = []string{"target=" + target}
	}
	if len(envs) == 0 {
		return nil, invalid("no environment: give --target URL or --env NAME=URL (e.g. --env blue=http://blue.internal --env green=http://green.internal)")
	}
	var out []smoke.Target
	seen := map[string]bool{}
	for _, e := range envs {
		name, raw, ok := strings.Cut(e, "=")
		if !ok || name == "" {
			return nil, invalid("--env %q: want NAME=URL", redactURL(e))
		}
		if seen[name] {
			return nil, invalid("--env %s given twice", name)
		}
		seen[name] = true
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, invalid("environment %s: %q is not an http(s) URL", name, redactURL(raw))
		}
		out = append(out, smoke.Target{Name: name, URL: raw})
	}
	return out, nil
}

// redactURL hides the password of any URL in s, for error messages quoting a flag.
func redactURL(s string) string {
	return specs.NewRedactor(specs.URLSecrets(s)...).Redact(s)
}

// parseReports reads --report FORMAT=FILE flags.
func parseReports(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		format, file, ok := strings.Cut(f, "=")
		if !ok || file == "" {
			return nil, invalid("--report %q: want FORMAT=FILE (%s)", f, strings.Join(verdict.FormatNames(), ", "))
		}
		if _, known := verdict.VerdictFormats[format]; !known {
			return nil, invalid("--report %q: unknown format %q (%s)", f, format, strings.Join(verdict.FormatNames(), ", "))
		}
		out[format] = file
	}
	return out, nil
}
