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
// Every decision is a sequential test whose false-rejection probability stays at its level
// however often it is looked at: a nonnegative supermartingale under the null and Ville's
// inequality. The checks fed by monitors test each limit directly — the error rate on pairs of
// probes made at the same moment (x_c − r·x_b − d, one value per pair), a percentile by
// combining both sides' betting evidence at every point the baseline's percentile might be at
// (Waudby-Smith & Ramdas 2023; Howard & Ramdas 2022) — and cap the evidence one block of time
// can add, so that a burst of correlated observations cannot decide alone. The other checks
// (counts from a metrics source, histograms, shifts, value series) cover each side's quantity
// with a confidence sequence (Howard, Ramdas, McAuliffe & Sekhon 2021) and compare the
// intervals. A check fails only with evidence that a limit is exceeded (false fail ≤ α over the
// whole analysis, under independence between blocks) and passes only with evidence that every
// limit holds — positive evidence, never "no regression seen yet". Until one or the other, the
// outcome is inconclusive.
//
// # Saving and resuming
//
// Every check's state can be saved (SaveState) and restored into a check of the same
// configuration (RestoreState), so that an analysis can stop and resume where it was: the
// evidence is the same process observed later, and a restored check fed the same observations
// judges exactly as the original (see state.go).
package compare
