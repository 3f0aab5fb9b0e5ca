package main

import "math"

// failureLimit is Argo Rollouts' failureLimit (Flagger's threshold): the number of failed
// measurements tolerated; one more rolls back.
const failureLimit = 1

// thresholdJudge is how Argo Rollouts and Flagger analyses are usually written: one measurement
// per 1-minute interval compares that minute's green value with blue's — latency: green p95 ÷
// blue p95 above 1.2 fails; errors: green rate − blue rate above 0.5pp fails — and a minute
// without data on either side fails too (Flagger: no value fails the check). It rolls back when
// failures exceed failureLimit and promotes at the horizon.
type thresholdJudge struct {
	errors   bool
	failures int
}

func newThreshold(s *scenario) *thresholdJudge { return &thresholdJudge{errors: s.errors} }

func (j *thresholdJudge) observe(tk *tick) verdict {
	if tk.minute == 0 {
		return undecided
	}
	if measurementFailed(tk.point[blue], tk.point[green], j.errors) {
		j.failures++
	}
	if j.failures > failureLimit {
		return rollback
	}
	return undecided
}

func (j *thresholdJudge) final() verdict { return promote }

func measurementFailed(b, c float64, errors bool) bool {
	switch {
	case math.IsNaN(b) || math.IsNaN(c):
		return true
	case errors:
		return c-b > errorMaxIncrease
	}
	return c > latencyMaxRatio*b
}
