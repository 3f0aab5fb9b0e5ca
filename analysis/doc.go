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
package analysis
