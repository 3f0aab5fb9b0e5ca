// Package provider is greenlight as an Argo Rollouts metric provider plugin: Run starts an
// analysis on a `greenlight serve` and returns a Running measurement that Argo resumes until the
// verdict; promote is Successful, rollback Failed, inconclusive Inconclusive, and a daemon that
// cannot answer an Error. It holds no state Argo needs: the analysis's id travels in the
// measurement's metadata, so a restarted plugin or controller goes on where it was.
//
// It speaks to the daemon over its HTTP API only, and to Argo through Argo's own RPC types
// (metricproviders/plugin/rpc); cmd/greenlight-argo-rollouts serves it with hashicorp/go-plugin.
package provider
