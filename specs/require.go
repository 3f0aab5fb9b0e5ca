package specs

// RequireSecrets reports the missing secrets (see LoadOptions.SecretsWhenUsed) of the suites
// the analysis runs: its smoke suites and its monitors' suites. Suites it does not use may lack
// theirs: a run of this analysis never reads them.
func (a *Analysis) RequireSecrets() error {
	var errs Errors
	seen := map[*Suite]bool{}
	need := func(s *Suite) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		errs = append(errs, s.MissingSecrets...)
	}
	for _, s := range a.SmokeSuites {
		need(s)
	}
	for i := range a.Monitors {
		need(a.Monitors[i].Resolved)
	}
	return errs.err()
}
