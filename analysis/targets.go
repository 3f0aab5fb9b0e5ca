package analysis

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
)

// resolveTargets applies overrides and checks that both roles have a usable URL.
func resolveTargets(a *specs.Analysis, o Options, redact *specs.Redactor) (base, cand synthetic.Target, targets map[string]smoke.Target, err error) {
	envs := map[string]specs.Environment{}
	for k, v := range a.Environments {
		envs[k] = v
	}
	for name, u := range o.Envs {
		e := envs[name]
		e.URL = u
		envs[name] = e
	}
	bName, cName := pick(o.Baseline, a.Baseline), pick(o.Candidate, a.Candidate)
	if bName == cName {
		return base, cand, nil, fmt.Errorf("%w: baseline and candidate are both %q", ErrInvalid, bName)
	}
	targets = map[string]smoke.Target{}
	for name, e := range envs {
		// Every secret of the analysis goes with each target, so that smoke results redact an
		// environment's ${ENV} header values too.
		targets[name] = smoke.Target{Name: name, URL: e.URL, Headers: e.Headers, Labels: e.Labels, Secrets: redact.Secrets()}
	}
	for _, role := range []struct {
		name string
		role string
	}{{bName, "baseline"}, {cName, "candidate"}} {
		e, ok := envs[role.name]
		switch {
		case !ok:
			return base, cand, nil, fmt.Errorf("%w: %s %q is not an environment (have %s)", ErrInvalid, role.role, role.name, strings.Join(sortedEnvNames(envs), ", "))
		case e.URL == "":
			return base, cand, nil, fmt.Errorf("%w: environment %q (%s) has no URL: set it in the spec or give --env %s=URL", ErrInvalid, role.name, role.role, role.name)
		}
		if u, perr := url.Parse(e.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return base, cand, nil, fmt.Errorf("%w: environment %q: %q is not an http(s) URL", ErrInvalid, role.name, redact.Redact(e.URL))
		}
	}
	base = synthetic.Target{Target: targets[bName], Role: synthetic.Baseline}
	cand = synthetic.Target{Target: targets[cName], Role: synthetic.Candidate}
	return base, cand, targets, nil
}

func pick(override, spec string) string {
	if override != "" {
		return override
	}
	return spec
}

func sortedEnvNames(m map[string]specs.Environment) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
