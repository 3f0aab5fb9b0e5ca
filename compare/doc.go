// Package compare judges a candidate against a baseline with statistics that stay valid while
// they are checked continuously. It is pure: no I/O, no clock, nothing of greenlight's imported.
//
// Every check keeps bounded state per environment, accepts observations as they arrive and can be
// evaluated at any moment. An evaluation returns an Outcome: pass, fail or inconclusive, the
// effect (as a ratio and as a difference), the interval it is sure of, the samples per side, the
// threshold, and a one-line reason with the resolved numbers.
//
// # Why the verdicts can be trusted under continuous checking
//
// Each side's quantity (a proportion, a percentile, a probability) is covered by a confidence
// sequence: a sequence of intervals that contains the true value at every sample size at once
// with probability at least 1-α/2, however often it is looked at (Ville's inequality applied to
// a mixture likelihood-ratio martingale; Howard, Ramdas, McAuliffe & Sekhon 2021; Howard &
// Ramdas 2022 for quantiles). A check fails only when the candidate's interval and the
// baseline's interval together exclude every value the threshold allows, so the probability of
// a false fail over a whole analysis is at most α. It passes only when they together show that
// the candidate is inside the allowed region — positive evidence, never "no regression seen yet".
// Until one or the other, the outcome is inconclusive.
package compare
