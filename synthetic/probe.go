package synthetic

import (
	"time"

	"github.com/greenlight/greenlight/smoke"
)

// Probe is one run of a monitor's suite against one environment.
type Probe struct {
	Monitor string
	Env     string
	Role    Role
	Seq     int64     // the run number (1, 2, …, per monitor), shared by the two probes of a pair
	Start   time.Time // when the suite started on this environment
	OK      bool      // every step passed
	// Latency is the sum of the response times (smoke.StepResult.Latency) of the steps that got
	// a response; retries' backoff and skipped steps are not in it.
	Latency time.Duration
	// Steps are the steps that ran, in order. A step skipped after an earlier failure is left
	// out: it measured nothing.
	Steps []StepProbe
	Err   string // "step: reason" of the first failure, or the suite's own problem (redacted by smoke)
	// Unreachable says why the environment could not be reached at all ("connection refused",
	// "DNS: no such host …", "TLS: …"), when that is why the probe failed.
	Unreachable string
}

// StepProbe is one step of a probe.
type StepProbe struct {
	Name       string
	OK         bool
	Latency    time.Duration // the final attempt's response time; 0 without a response
	StatusCode int           // 0 without a response
	Err        string        // why it failed: an error, or the first failed condition with its values
}

// complete reports whether every one of the suite's steps ran and got a response, so that the
// probe's Latency covers the whole suite and compares with other complete probes of its monitor.
func complete(p *Probe, steps int) bool {
	if len(p.Steps) != steps {
		return false
	}
	for i := range p.Steps {
		if p.Steps[i].StatusCode == 0 && p.Steps[i].Latency == 0 {
			return false
		}
	}
	return true
}

// Pair is one scheduled run: both environments probed at the same moment.
type Pair struct {
	Monitor   string
	Seq       int64
	At        time.Time // when both probes were launched (the scheduled time plus the jitter)
	Baseline  Probe
	Candidate Probe
	// First is the role whose probe was launched first; both were then released together from
	// one barrier. It is drawn per pair (Options.Order) and kept to diagnose order effects.
	First Role
}

// probeFrom reduces a smoke pass to a probe.
func probeFrom(res *smoke.SuiteResult, monitor string, role Role, seq int64) Probe {
	p := Probe{
		Monitor: monitor,
		Env:     res.Environment,
		Role:    role,
		Seq:     seq,
		Start:   res.StartedAt,
		OK:      res.Passed() && len(res.Steps) > 0,
		Steps:   make([]StepProbe, 0, len(res.Steps)),
	}
	for i := range res.Steps {
		sr := &res.Steps[i]
		if sr.Status == smoke.Skipped {
			continue
		}
		sp := StepProbe{Name: sr.Name, OK: sr.Status == smoke.Passed, StatusCode: sr.StatusCode}
		if responded(sr) {
			sp.Latency = sr.Latency
			p.Latency += sr.Latency
		}
		if !sp.OK {
			sp.Err = stepReason(sr)
			if p.Err == "" {
				p.Err = sr.Name + ": " + sp.Err
			}
			if p.Unreachable == "" {
				p.Unreachable = sr.Unreachable
			}
		}
		p.Steps = append(p.Steps, sp)
	}
	if !p.OK && p.Err == "" {
		p.Err = res.Err
		if p.Err == "" {
			p.Err = "suite " + string(res.Status)
		}
	}
	return p
}

// responded reports whether a step got a response: passed or failed steps did, errored ones
// (connection refused, timeout) did not.
func responded(sr *smoke.StepResult) bool {
	return sr.Status == smoke.Passed || sr.Status == smoke.Failed
}

// stepReason is the first reason a step gives for failing.
func stepReason(sr *smoke.StepResult) string {
	if sr.Err != "" {
		return sr.Err
	}
	for _, c := range sr.Conditions {
		if c.Passed {
			continue
		}
		if c.Detail != "" {
			return c.Detail
		}
		return c.Expression
	}
	return string(sr.Status)
}
