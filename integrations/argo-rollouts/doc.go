// Package argorollouts is greenlight's integration with Argo Rollouts, in a module of its own so
// that the main module does not depend on Argo's dependency tree: the metric provider plugin
// (package provider, command cmd/greenlight-argo-rollouts) and the tests of deploy/argo-rollouts.
//
// The tests drive the examples with Argo Rollouts' own code — its validation, its argument
// resolution, its web metric provider and expression evaluation, its plugin loader and client,
// its AnalysisRun controller — against a real `greenlight serve` judging loopback apps. See
// docs/integrations/argo-rollouts.md.
package argorollouts
