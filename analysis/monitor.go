package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// pairBuffer is how many probe pairs may wait for the run loop: ten seconds' worth, at least 16
// and at most 1,024. A pair is a few hundred bytes and an engine may run hundreds of analyses,
// so the buffer follows the monitors' rate rather than being sized for the fastest one.
func pairBuffer(monitors []synthetic.Monitor) int {
	perSec := 0.0
	for _, m := range monitors {
		if m.Every > 0 {
			perSec += float64(time.Second) / float64(m.Every)
		} else {
			perSec++ // a cron schedule: at most one a second
		}
	}
	return int(min(1024, max(16, math.Ceil(10*perSec))))
}

// monitor runs the monitors and evaluates the checks every tick for up to limit. In the analysis
// phase it ends at the first failed critical check, or when every critical check passed after
// minDuration; at the limit undecided checks make it inconclusive (mapped by the policy). In the
// watch phase, fresh checks (own budget α) judge only post-promotion data; a failure turns the
// verdict into rollback, and reaching the limit confirms the promote. Resumed from a snapshot,
// the phase goes on from where the snapshot left it: its checks restored, its time counted from
// when it began, its ticks on the same beat.
func (r *run) monitor(ctx context.Context, phase verdict.Phase, limit time.Duration, from *Snapshot) error {
	checks, err := newChecks(r.a, [2]string{r.base.Name, r.cand.Name}, r.srcs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	r.checks, r.elapsed, r.reach, r.savedAt = checks, 0, [2]reachCount{}, 0
	r.baseDown = false
	r.phase, r.phaseStart = phase, time.Now()
	if from != nil {
		if err := r.resume(from, checks); err != nil {
			return err
		}
		r.phaseStart = from.PhaseStart
		r.elapsed, r.savedAt = from.Elapsed, from.Elapsed
	}
	start := r.phaseStart
	var monitors []synthetic.Monitor
	for i := range r.a.Monitors {
		m, err := synthetic.MonitorFromSpec(&r.a.Monitors[i])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		monitors = append(monitors, m)
	}
	byMonitor := map[string][]*check{}
	for _, c := range checks {
		from := c.spec.Source().From
		byMonitor[from] = append(byMonitor[from], c)
	}

	msg := fmt.Sprintf("comparing %s (candidate) with %s (baseline)", r.cand.Name, r.base.Name)
	if phase == verdict.PhaseWatch {
		msg = fmt.Sprintf("promoted: watching %s for %s", r.cand.Name, limit)
	}
	if from != nil {
		msg = fmt.Sprintf("resumed after %s of the %s phase: %s", time.Since(start).Round(time.Millisecond), phase, msg)
	}
	ev := Event{Kind: EventPhase, Phase: phase, Limit: limit, Message: msg}
	if phase == verdict.PhaseWatch {
		ev.Verdict = r.promotedEvent(limit)
	}
	r.emit(ev)
	if from == nil {
		r.take()
	}

	// Ticks fall at start + offset + k·Tick (k ≥ 1), the first probes at start + offset; a
	// resumed phase keeps that beat: its probes start at the first point of it from now, its
	// first tick comes at the first one after now.
	offset := time.Duration(r.o.stagger * float64(r.o.Tick))
	firstTick, probeDelay := r.o.Tick+offset, offset
	if from != nil {
		due := time.Since(start) - offset
		k := max(1, due/r.o.Tick+1)
		firstTick = time.Until(start.Add(offset + k*r.o.Tick))
		probeDelay = max(0, time.Until(start.Add(offset+max(0, (due+r.o.Tick-1)/r.o.Tick)*r.o.Tick)))
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pairs := make(chan synthetic.Pair, pairBuffer(monitors))
	var done chan error // nil, and so never ready, when there are no monitors
	if len(monitors) > 0 {
		done = make(chan error, 1)
		go func() {
			done <- synthetic.Run(mctx, monitors, synthetic.Options{
				Runner: r.o.Runner, Baseline: r.base, Candidate: r.cand, Metrics: r.o.Metrics, Logger: r.o.Logger,
				Delay:      probeDelay,
				HostLimits: r.o.hosts,
			}, pairs)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}

	// Checks that read a source are polled at that source's interval.
	polled := map[string][]*check{}
	for _, c := range checks {
		if c.poll != nil {
			polled[c.kind] = append(polled[c.kind], c)
		}
	}
	type pollTick struct {
		kind string
		at   time.Time
	}
	pollC := make(chan pollTick)
	for kind := range polled {
		t := time.NewTicker(r.srcs.interval(kind))
		defer t.Stop()
		go func() {
			for {
				select {
				case <-mctx.Done():
					return
				case at := <-t.C:
					select {
					case pollC <- pollTick{kind, at}:
					case <-mctx.Done():
						return
					}
				}
			}
		}()
	}
	envs := [2]source.Env{
		{Name: r.base.Name, Role: string(synthetic.Baseline), Labels: r.base.Labels},
		{Name: r.cand.Name, Role: string(synthetic.Candidate), Labels: r.cand.Labels},
	}

	ticker := time.NewTicker(r.o.Tick)
	defer ticker.Stop()
	tickC := ticker.C
	if firstTick != r.o.Tick {
		ticker.Stop()
		first := time.NewTimer(firstTick)
		defer first.Stop()
		tickC = first.C
	}
	// Engine.Snapshot asks the loop for the state between two of its steps.
	var reqs chan chan snapReply
	if r.o.snaps.serve != nil {
		reqs = make(chan chan snapReply)
		defer r.o.snaps.serve(reqs)()
	}
	for {
		select {
		case reply := <-reqs:
			s, err := r.snapshot()
			if err == nil {
				r.o.snaps.took(s, false)
			}
			reply <- snapReply{s, err}
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			// The monitors stopped by themselves: only invalid monitors do that. Put the result
			// back for the deferred wait.
			done <- err
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			return errors.New("monitors stopped unexpectedly")
		case p := <-pairs:
			r.reach[0].add(p.Baseline)
			r.reach[1].add(p.Candidate)
			// A baseline probe that reached nothing has nothing to compare the candidate with:
			// counted as the baseline failing, it would make any candidate look better (a wrong
			// baseline URL would pass every release). The pair is left out of the comparison;
			// the candidate's own result still counts toward the evidence floor.
			noBase := p.Baseline.Unreachable != ""
			switch {
			case noBase && !r.baseDown:
				r.baseDown, r.baseDownFrom = true, time.Since(start)
			case !noBase:
				r.baseDown = false
			}
			for _, c := range byMonitor[p.Monitor] {
				c.advance(time.Since(start))
				c.observeCandidate(p.Candidate)
				if noBase {
					continue
				}
				if err := c.feed(compare.Baseline, p.Baseline); err != nil {
					r.o.Logger.Warn("observation rejected", "check", c.spec.Name, "env", r.base.Name, "err", err)
				}
				if err := c.feed(compare.Candidate, p.Candidate); err != nil {
					r.o.Logger.Warn("observation rejected", "check", c.spec.Name, "env", r.cand.Name, "err", err)
				}
			}
		case tick := <-pollC:
			w := source.Window{Start: start, End: tick.at}
			for _, c := range polled[tick.kind] {
				if err := c.poll(ctx, envs, w); err != nil {
					// No data yet (a window shorter than two scrapes, no traffic) keeps the check
					// undecided; only failures of the source itself count toward the limit.
					// A source's error may quote its URL or the credential it was sent.
					c.srcErr = r.redact.Redact(err.Error())
					if !errors.Is(err, source.ErrNoData) {
						c.consecutive++
					}
					r.o.Logger.Warn("source failed", "check", c.spec.Name, "err", c.srcErr, "consecutive", c.consecutive)
					continue
				}
				c.srcErr, c.consecutive = "", 0
			}
		case at := <-tickC:
			if tickC != ticker.C {
				ticker.Reset(r.o.Tick)
				tickC = ticker.C
			}
			// How late this evaluation runs after its tick was due: a busy process or a slow
			// source delays it; the Engine's bench reports its p99.
			lag := time.Since(at)
			elapsed := time.Since(start)
			r.elapsed = elapsed
			results := make([]verdict.CheckResult, len(checks))
			for i, c := range checks {
				results[i] = c.resultAt(elapsed)
			}
			r.v.Checks = results
			r.emit(Event{Kind: EventTick, Phase: phase, Elapsed: elapsed, Limit: limit, Checks: results, Diagnosis: r.diagnosis(), Lag: lag})
			if failing := r.failingSource(checks); failing != nil {
				r.sourceFailed(failing, elapsed)
				return nil
			}
			if r.baseDown && elapsed-r.baseDownFrom >= baselineDownLimit {
				r.baselineDown(elapsed)
				return nil
			}
			if r.decide(phase, results, elapsed, limit) {
				return nil
			}
			if every := r.o.snaps.every; every > 0 && elapsed-r.savedAt >= every {
				r.savedAt = elapsed
				r.take()
			}
		}
	}
}
