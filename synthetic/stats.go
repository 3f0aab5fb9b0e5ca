package synthetic

import "sync"

// Stats counts what Run did, per monitor. Pass one in Options to read it while Run goes on; the
// zero value is ready to use and it is safe for concurrent use. Once Run has returned,
// Started = Completed + Panics + Interrupted for every monitor.
type Stats struct {
	mu        sync.Mutex
	byMonitor map[string]*MonitorStats
}

// MonitorStats are one monitor's counts.
type MonitorStats struct {
	Started          int64 // runs begun
	Completed        int64 // pairs sent to out
	SkippedOverlap   int64 // runs not started: the previous run was still in flight
	SkippedRateLimit int64 // runs not started: the rate cap lacked the tokens
	SkippedHostLimit int64 // runs not started: a host's cap, shared with other monitors, lacked them
	Panics           int64 // runs abandoned after a recovered panic; their pairs are dropped
	Interrupted      int64 // runs cut short by the end of ctx; their pairs are dropped
}

// Monitor returns the counts of one monitor (zero for one never run).
func (s *Stats) Monitor(name string) MonitorStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms := s.byMonitor[name]; ms != nil {
		return *ms
	}
	return MonitorStats{}
}

// Snapshot returns the counts of every monitor run so far, by name.
func (s *Stats) Snapshot() map[string]MonitorStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]MonitorStats, len(s.byMonitor))
	for name, ms := range s.byMonitor {
		out[name] = *ms
	}
	return out
}

// update applies f to one monitor's counts; a nil Stats counts nothing.
func (s *Stats) update(name string, f func(*MonitorStats)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byMonitor == nil {
		s.byMonitor = map[string]*MonitorStats{}
	}
	ms := s.byMonitor[name]
	if ms == nil {
		ms = &MonitorStats{}
		s.byMonitor[name] = ms
	}
	f(ms)
}
