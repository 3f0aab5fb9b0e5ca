package synthetic

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
)

// Role is an environment's part in an analysis. Colours swap every release, so a role is given
// per analysis, never derived from an environment's name.
type Role string

const (
	Baseline  Role = "baseline"  // the environment serving users now
	Candidate Role = "candidate" // the environment being judged
)

// Target is an environment with its role in the analysis.
type Target struct {
	smoke.Target
	Role Role
}

// Monitor is a schedule plus the suite it runs.
type Monitor struct {
	Name      string
	Suite     *specs.Suite
	Every     time.Duration // exactly one of Every and Cron
	Cron      string        // five fields, six with seconds first, or a descriptor (specs.ParseCron)
	Jitter    time.Duration // one random delay in [0, Jitter) per run, the same for both environments
	RateLimit float64       // most requests per second to ONE environment (0 = DefaultRateLimit)
}

// DefaultRateLimit is the rate cap, in requests per second per environment, of a monitor that
// sets none.
const DefaultRateLimit = specs.DefaultRateLimit

// MinEvery is the shortest Every accepted, the same floor the spec language enforces.
const MinEvery = 10 * time.Millisecond

// Sentinel errors Run and MonitorFromSpec wrap.
var (
	ErrInvalidMonitor = errors.New("invalid monitor")
	ErrInvalidOptions = errors.New("invalid options")
)

// MonitorFromSpec converts a linked specs.Monitor: its suite is m.Resolved (an inline step has
// already become a one-step suite there).
func MonitorFromSpec(m *specs.Monitor) (Monitor, error) {
	if m == nil {
		return Monitor{}, fmt.Errorf("convert monitor: %w: nil", ErrInvalidMonitor)
	}
	if m.Resolved == nil {
		return Monitor{}, fmt.Errorf("monitor %q: %w: its suite is not resolved (link the documents first)", m.Name, ErrInvalidMonitor)
	}
	mon := Monitor{
		Name:      m.Name,
		Suite:     m.Resolved,
		Every:     m.Every.D(),
		Cron:      m.Cron,
		Jitter:    m.Jitter.D(),
		RateLimit: m.RateLimit,
	}
	if err := mon.validate(); err != nil {
		return Monitor{}, err
	}
	return mon, nil
}

// rateLimit returns the effective cap.
func (m *Monitor) rateLimit() float64 {
	if m.RateLimit == 0 {
		return DefaultRateLimit
	}
	return m.RateLimit
}

// validate reports every problem of one monitor, as one error wrapping ErrInvalidMonitor.
func (m *Monitor) validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if m.Name == "" {
		add("no name")
	}
	switch {
	case m.Suite == nil:
		add("no suite")
	case len(m.Suite.Steps) == 0:
		add("suite %q has no steps", m.Suite.Metadata.Name)
	case m.Suite.Timeout <= 0:
		add("suite %q has no timeout (load suites through specs, which sets the defaults)", m.Suite.Metadata.Name)
	}
	switch {
	case (m.Every == 0) == (m.Cron == ""):
		add("give exactly one of every and cron")
	case m.Every != 0 && m.Every < MinEvery:
		add("every %s is too often (at least %s)", m.Every, MinEvery)
	case m.Cron != "":
		if s, err := specs.ParseCron(m.Cron); err != nil {
			add("invalid cron %q: %s", m.Cron, err)
		} else if s.Next(time.Now()).IsZero() {
			add("cron %q never fires", m.Cron)
		}
	}
	if m.Jitter < 0 {
		add("jitter %s is negative", m.Jitter)
	}
	if m.RateLimit < 0 || math.IsNaN(m.RateLimit) || math.IsInf(m.RateLimit, 0) {
		add("rateLimit %v must be a positive number of requests per second", m.RateLimit)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("monitor %q: %w: %s", m.Name, ErrInvalidMonitor, strings.Join(problems, "; "))
}
