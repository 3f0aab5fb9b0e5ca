package verdict

// Redact applies redact to every text of the report — URLs, requests, errors, condition
// details — in place. Callers redact before rendering: once a renderer has escaped a value for
// JSON, XML or Markdown, a secret in it may no longer be recognisable in the finished text.
func (r *Report) Redact(redact func(string) string) {
	if r == nil || redact == nil {
		return
	}
	for i := range r.Suites {
		s := &r.Suites[i]
		s.Name, s.File, s.URL, s.Error = redact(s.Name), redact(s.File), redact(s.URL), redact(s.Error)
		for j := range s.Steps {
			st := &s.Steps[j]
			st.Name, st.Request, st.Error = redact(st.Name), redact(st.Request), redact(st.Error)
			for k := range st.Conditions {
				c := &st.Conditions[k]
				c.Expression, c.Detail = redact(c.Expression), redact(c.Detail)
			}
			for k := range st.Captured {
				st.Captured[k] = redact(st.Captured[k])
			}
		}
	}
}

// Redact applies redact to every text of the verdict and its smoke report in place: the
// reason, the environments' URLs and each check's reason, source, error and warnings.
func (v *Verdict) Redact(redact func(string) string) {
	if v == nil || redact == nil {
		return
	}
	v.Reason = redact(v.Reason)
	for i := range v.Diagnosis {
		v.Diagnosis[i] = redact(v.Diagnosis[i])
	}
	v.Baseline.URL, v.Candidate.URL = redact(v.Baseline.URL), redact(v.Candidate.URL)
	RedactChecks(v.Checks, redact)
	v.Smoke.Redact(redact)
}

// RedactChecks applies redact to the texts of check results in place.
func RedactChecks(checks []CheckResult, redact func(string) string) {
	for i := range checks {
		c := &checks[i]
		c.Reason, c.Source, c.Error = redact(c.Reason), redact(c.Source), redact(c.Error)
		for j := range c.Warnings {
			c.Warnings[j] = redact(c.Warnings[j])
		}
	}
}
