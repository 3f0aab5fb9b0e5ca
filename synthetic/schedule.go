package synthetic

import (
	"context"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// schedule gives the next time a monitor is due strictly after t; cron.Schedule is one.
type schedule interface {
	Next(t time.Time) time.Time
}

// every is a fixed-period schedule anchored at its start, so it does not drift by the time
// each tick takes to handle; ticks that pass unhandled are dropped, like time.Ticker's.
type every struct {
	start  time.Time
	period time.Duration
}

func (e every) Next(t time.Time) time.Time {
	if t.Before(e.start) {
		return e.start
	}
	return e.start.Add((t.Sub(e.start)/e.period + 1) * e.period)
}

// scheduleOf returns m's schedule and its first due time after now: an every monitor runs at
// once, then every period; a cron monitor at its first matching time.
func scheduleOf(m *Monitor, now time.Time) (schedule, time.Time, error) {
	if m.Every > 0 {
		return every{start: now, period: m.Every}, now, nil
	}
	s, err := specs.ParseCron(m.Cron)
	if err != nil {
		return nil, time.Time{}, err
	}
	return s, s.Next(now), nil
}

// loop calls due at each of sched's times, from first, until ctx is done. due must not block:
// it starts the run or skips it.
func loop(ctx context.Context, sched schedule, first time.Time, due func(ctx context.Context)) {
	if first.IsZero() {
		return
	}
	timer := time.NewTimer(time.Until(first))
	defer timer.Stop()
	for next := first; ; {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		due(ctx)
		// Strictly after the time just served: a wall clock slewed back must not serve it twice.
		now := time.Now()
		if now.Before(next) {
			now = next
		}
		if next = sched.Next(now); next.IsZero() {
			return // a cron schedule with no time left (robfig/cron looks five years ahead)
		}
		timer.Reset(time.Until(next))
	}
}
