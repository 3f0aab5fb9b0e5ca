// Package argorollouts is greenlight's integration with Argo Rollouts, in a module of its own so
// that the main module does not depend on Argo's dependency tree.
//
// Its tests drive the examples in deploy/argo-rollouts with Argo Rollouts' own code — its
// validation, its argument resolution, its web metric provider and expression evaluation, its
// AnalysisRun controller — against a real `greenlight serve` judging loopback apps. See
// docs/integrations/argo-rollouts.md.
package argorollouts
