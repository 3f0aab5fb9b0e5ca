// Package analysis owns the run of an analysis: the smoke gate on the candidate, then synthetic
// monitors (and, later, metric and trace sources) feeding the compare checks every tick until
// the verdict is decided or time runs out, then the post-promotion watch.
//
// `greenlight verify` and the daemon drive the same Run. It decides nothing statistical itself
// (compare does) and renders nothing (verdict does).
//
// Kinds are listed once each, keyed by their YAML name: sourceKinds (one source.Kind per source
// package) and checkKinds (how each kind of check is fed and simulated); tests hold both equal
// to the language's own lists (specs.SourceKinds, specs.CheckKinds).
//
// # Snapshots
//
// An Engine with EngineOptions.Snapshots saves each analysis's state — its phase and when the
// phase began, each check's statistical state, evidence floor and source error streak, the smoke
// results once past the gate, the promote a watch watches over, the verdict once decided, the
// last event's number — every SnapshotEvery of run time, at each phase change, at the verdict
// and when the Engine shuts down; Engine.Snapshot takes one on demand. Engine.Restore resumes an
// analysis from one in another process: decided, it comes back with its verdict; running, it
// goes on with its phase, its checks' evidence restored, its time counted in wall time from when
// the phase began (downtime counts toward maxDuration), its events numbered after the
// snapshot's. A slow or failing sink never holds up a run. See snapshot.go and docs/judge.md
// ("Resuming after a restart") for why the judge's guarantee holds across the gap.
package analysis
