package synthetic

// ProbeFunc is how one probe runs: smoke.Runner.Run's shape.
type ProbeFunc = probeFunc

// WithProbe returns o with every probe run by f instead of o.Runner.Run, so that tests can make
// a run panic.
func WithProbe(o Options, f ProbeFunc) Options {
	o.probe = f
	return o
}
