package awshook

import (
	"context"
	"errors"
	"fmt"

	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
)

// CodeDeployEvent is what CodeDeploy invokes a lifecycle hook function with (aws-lambda-go's
// events.CodeDeployEvent is another thing: the EventBridge notification).
type CodeDeployEvent struct {
	DeploymentID                  string `json:"DeploymentId"`
	LifecycleEventHookExecutionID string `json:"LifecycleEventHookExecutionId"`
}

// CodeDeployResult is what the function returns: CodeDeploy ignores it; it is for the
// function's logs and tests.
type CodeDeployResult struct {
	// Analysis and State: the analysis started (or found, for a repeated invocation), whose
	// verdict the daemon reports.
	Analysis string `json:"analysis,omitempty"`
	State    string `json:"state,omitempty"`
	// Reported is the status the function reported itself ("Failed"), and Reason why.
	Reported string `json:"reported,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// CodeDeploy starts the analysis for a hook and returns at once: the daemon reports the status.
// The key (deployment and hook execution) makes a repeated invocation find the same analysis.
// When no analysis can be started — the daemon is out of reach, refuses the spec, or the hook
// is misconfigured — it reports Failed itself. An error is returned only when even that
// report failed, so that Lambda invokes the function again.
func (h *Hook) CodeDeploy(ctx context.Context, ev CodeDeployEvent) (CodeDeployResult, error) {
	if ev.DeploymentID == "" || ev.LifecycleEventHookExecutionID == "" {
		return CodeDeployResult{}, errors.New("the CodeDeploy event needs both DeploymentId and LifecycleEventHookExecutionId")
	}
	log := h.log.With("deployment", ev.DeploymentID, "hookExecution", ev.LifecycleEventHookExecutionID)
	if h.broken != nil {
		return h.failCodeDeploy(ctx, ev, h.broken.Error())
	}
	a, err := h.daemon.start(ctx, startRequest{
		Spec: h.cfg.Spec, Key: "codedeploy:" + ev.DeploymentID + ":" + ev.LifecycleEventHookExecutionID,
		Environments: h.cfg.Environments, Baseline: h.cfg.Baseline, Candidate: h.cfg.Candidate,
		Mode: h.cfg.Mode, Watch: h.cfg.watch(),
		Labels: h.cfg.labels(map[string]string{
			codedeploy.LabelDeploymentID:    ev.DeploymentID,
			codedeploy.LabelHookExecutionID: ev.LifecycleEventHookExecutionID,
		}),
	})
	if err != nil {
		return h.failCodeDeploy(ctx, ev, "greenlight did not start the analysis: "+err.Error())
	}
	log.Info("analysis started; greenlight reports the hook's status", "analysis", a.ID, "state", a.State)
	return CodeDeployResult{Analysis: a.ID, State: a.State}, nil
}

func (h *Hook) failCodeDeploy(ctx context.Context, ev CodeDeployEvent, reason string) (CodeDeployResult, error) {
	log := h.log.With("deployment", ev.DeploymentID, "hookExecution", ev.LifecycleEventHookExecutionID)
	if h.cd == nil {
		log.Error("no verdict, and no way to report Failed", "reason", reason)
		return CodeDeployResult{}, fmt.Errorf("%s; and no CodeDeploy client to report Failed", reason)
	}
	if _, err := h.cd.Put(ctx, ev.DeploymentID, ev.LifecycleEventHookExecutionID, codedeploy.Failed); err != nil && !codedeploy.AlreadyCompleted(err) {
		log.Error("no verdict, and reporting Failed failed", "reason", reason, "error", err)
		return CodeDeployResult{}, fmt.Errorf("%s; and reporting Failed: %w", reason, err)
	}
	log.Error("no verdict: reported Failed", "reason", reason)
	return CodeDeployResult{Reported: string(codedeploy.Failed), Reason: reason}, nil
}
