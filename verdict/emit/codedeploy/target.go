package codedeploy

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"

	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
)

// The labels that tie an analysis to a CodeDeploy hook: the hook Lambda sets them from the
// event CodeDeploy invokes it with.
const (
	LabelDeploymentID    = "codedeploy.deploymentId"
	LabelHookExecutionID = "codedeploy.hookExecutionId"
)

// Target is the status call an event asks for.
type Target struct {
	DeploymentID    string
	HookExecutionID string
	Status          types.LifecycleEventStatus
}

// TargetOf reads the call an event's payload asks for: nil when the analysis is no hook's, or
// when the event decides nothing (started, smoke done). Succeeded only for a promote; Failed
// for every other decision, an abort, an override to rollback, and a regression in the watch
// after a promote — the verdict a watch ends with, the hook's only answer: a hook at
// AfterAllowTraffic running the watch ("mode": "watch") fails there, and CodeDeploy rolls
// the traffic back.
func TargetOf(p *emit.Payload) (*Target, error) {
	labels := p.Data.Analysis.Labels
	dep, hook := labels[LabelDeploymentID], labels[LabelHookExecutionID]
	switch {
	case dep == "" && hook == "":
		return nil, nil
	case dep == "" || hook == "":
		return nil, fmt.Errorf("analysis %s has only one of the labels %s and %s: no hook to answer", p.Data.Analysis.ID, LabelDeploymentID, LabelHookExecutionID)
	}
	t := &Target{DeploymentID: dep, HookExecutionID: hook, Status: Failed}
	switch p.Type {
	case emit.Decided, emit.Overridden:
		v := p.Data.Verdict
		if v == nil {
			return nil, errors.New(string(p.Type) + " event without a verdict")
		}
		if v.Decision == verdict.Promote {
			t.Status = Succeeded
		}
	case emit.Aborted, emit.WatchRegression:
	default:
		return nil, nil
	}
	return t, nil
}
