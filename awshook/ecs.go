package awshook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The hookDetails keys the hook keeps its state in between invocations (ECS passes back what an
// IN_PROGRESS answer returned).
const (
	DetailAnalysis = "greenlightAnalysisId"
	DetailKey      = "greenlightKey"
	DetailErrors   = "greenlightErrors"
)

// The labels an ECS hook's analysis carries.
const (
	LabelECSService    = "ecs.serviceArn"
	LabelECSDeployment = "ecs.serviceDeploymentArn"
	LabelECSStage      = "ecs.lifecycleStage"
	LabelECSRevision   = "ecs.targetServiceRevisionArn"
)

// ECSEvent is what Amazon ECS invokes a deployment lifecycle hook function with.
type ECSEvent struct {
	ExecutionID      string                                `json:"executionId"`
	LifecycleStage   ecstypes.DeploymentLifecycleHookStage `json:"lifecycleStage"`
	ResourceArn      string                                `json:"resourceArn"` // the service deployment
	ExecutionDetails ECSExecutionDetails                   `json:"executionDetails"`
	// HookDetails holds the hook's configured details, merged with what the last IN_PROGRESS
	// answer returned.
	HookDetails map[string]any `json:"hookDetails,omitempty"`
}

// ECSExecutionDetails describe the deployment; the weights map service revision ARNs to
// percentages.
type ECSExecutionDetails struct {
	ServiceArn               string             `json:"serviceArn"`
	TargetServiceRevisionArn string             `json:"targetServiceRevisionArn"`
	TestTrafficWeights       map[string]float64 `json:"testTrafficWeights"`
	ProductionTrafficWeights map[string]float64 `json:"productionTrafficWeights"`
}

// ECSResponse is the hook's answer: SUCCEEDED goes on, FAILED rolls back, IN_PROGRESS has ECS
// invoke the function again after CallBackDelay seconds with HookDetails.
type ECSResponse struct {
	HookStatus    ecstypes.DeploymentLifecycleHookStatus `json:"hookStatus"`
	CallBackDelay int                                    `json:"callBackDelay,omitempty"`
	HookDetails   map[string]any                         `json:"hookDetails,omitempty"`
}

// ECS answers one invocation of an ECS lifecycle hook: it starts the analysis (or reads the
// one hookDetails names) and answers SUCCEEDED on promote, FAILED on rollback or
// inconclusive, IN_PROGRESS while it runs. A daemon that refuses the request (an unknown spec,
// a bad token, an analysis it does not know) is FAILED at once; one out of reach is retried
// on the next invocations, and FAILED once MaxErrors invocations in a row could not reach it —
// never SUCCEEDED without a promote. During a rollback (the target revision's traffic going
// back to 0) it answers SUCCEEDED at once, so that the hook never holds a rollback up.
func (h *Hook) ECS(ctx context.Context, ev ECSEvent) (ECSResponse, error) {
	if ev.ResourceArn == "" || ev.LifecycleStage == "" {
		return ECSResponse{}, errors.New("the ECS lifecycle hook event needs resourceArn and lifecycleStage")
	}
	log := h.log.With("serviceDeployment", ev.ResourceArn, "stage", ev.LifecycleStage)
	failed := func(reason string) (ECSResponse, error) {
		log.Error("FAILED", "reason", reason)
		return ECSResponse{HookStatus: ecstypes.DeploymentLifecycleHookStatusFailed}, nil
	}
	if h.broken != nil {
		return failed(h.broken.Error())
	}
	if rollingBack(ev) {
		log.Info("SUCCEEDED: the deployment is rolling back; nothing to judge")
		return ECSResponse{HookStatus: ecstypes.DeploymentLifecycleHookStatusSucceeded}, nil
	}
	key := ecsKey(ev)
	var id string
	var errs int
	if detailString(ev.HookDetails, DetailKey) == key {
		id, errs = detailString(ev.HookDetails, DetailAnalysis), detailInt(ev.HookDetails, DetailErrors)
	}
	var a analysis
	var err error
	if id == "" {
		a, err = h.daemon.start(ctx, h.ecsStart(ev, key))
	} else {
		a, err = h.daemon.verdict(ctx, id)
	}
	if err != nil {
		if refused(err) {
			return failed(err.Error())
		}
		errs++
		if errs >= h.cfg.MaxErrors {
			return failed(fmt.Sprintf("greenlight out of reach %d times in a row: %v", errs, err))
		}
		log.Warn("greenlight out of reach; asking again", "analysis", id, "errors", errs, "error", err)
		return h.inProgress(id, key, errs), nil
	}
	log = log.With("analysis", a.ID, "verdict", a.Verdict)
	switch a.Verdict {
	case "promote":
		log.Info("SUCCEEDED", "reason", a.Reason)
		return ECSResponse{HookStatus: ecstypes.DeploymentLifecycleHookStatusSucceeded}, nil
	case "running":
		log.Info("IN_PROGRESS")
		return h.inProgress(a.ID, key, 0), nil
	}
	return failed(fmt.Sprintf("analysis %s: %s: %s", a.ID, a.Verdict, a.Reason))
}

func (h *Hook) inProgress(id, key string, errs int) ECSResponse {
	return ECSResponse{
		HookStatus:    ecstypes.DeploymentLifecycleHookStatusInProgress,
		CallBackDelay: int(math.Ceil(h.cfg.CallbackDelay.Seconds())),
		HookDetails:   map[string]any{DetailAnalysis: id, DetailKey: key, DetailErrors: errs},
	}
}

func (h *Hook) ecsStart(ev ECSEvent, key string) startRequest {
	own := map[string]string{LabelECSDeployment: ev.ResourceArn, LabelECSStage: string(ev.LifecycleStage)}
	if d := ev.ExecutionDetails; d.ServiceArn != "" {
		own[LabelECSService] = d.ServiceArn
	}
	if d := ev.ExecutionDetails; d.TargetServiceRevisionArn != "" {
		own[LabelECSRevision] = d.TargetServiceRevisionArn
	}
	for k, v := range own {
		own[k] = tail(v, maxLabelValue)
	}
	return startRequest{Spec: h.cfg.Spec, Key: key, Environments: h.cfg.Environments,
		Baseline: h.cfg.Baseline, Candidate: h.cfg.Candidate, Labels: h.cfg.labels(own),
		Mode: h.cfg.Mode, Watch: h.cfg.watch()}
}

// maxKey and maxLabelValue are the daemon's bounds.
const (
	maxKey        = 256
	maxLabelValue = 256
)

// ecsKey identifies one hook's analysis: the service deployment and the stage, and for the
// stages ECS invokes at every traffic step (canary, linear), the target revision's weights at
// that step — so that each step gets its own analysis and a repeated invocation finds it.
func ecsKey(ev ECSEvent) string {
	key := "ecs:" + ev.ResourceArn + ":" + string(ev.LifecycleStage)
	switch ev.LifecycleStage {
	case ecstypes.DeploymentLifecycleHookStageTestTrafficShift, ecstypes.DeploymentLifecycleHookStagePreProductionTrafficShift,
		ecstypes.DeploymentLifecycleHookStageProductionTrafficShift:
		d := ev.ExecutionDetails
		key += fmt.Sprintf(":test=%g:prod=%g", d.TestTrafficWeights[d.TargetServiceRevisionArn], d.ProductionTrafficWeights[d.TargetServiceRevisionArn])
	}
	if len(key) > maxKey {
		sum := sha256.Sum256([]byte(key))
		key = "ecs:sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// rollingBack: ECS invokes the TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks again
// during a rollback, with the traffic shifting back — the target revision at 0%, another
// revision above.
func rollingBack(ev ECSEvent) bool {
	var weights map[string]float64
	switch ev.LifecycleStage {
	case ecstypes.DeploymentLifecycleHookStageTestTrafficShift:
		weights = ev.ExecutionDetails.TestTrafficWeights
	case ecstypes.DeploymentLifecycleHookStageProductionTrafficShift:
		weights = ev.ExecutionDetails.ProductionTrafficWeights
	default:
		return false
	}
	target, ok := weights[ev.ExecutionDetails.TargetServiceRevisionArn]
	if !ok || target != 0 {
		return false
	}
	for rev, w := range weights {
		if rev != ev.ExecutionDetails.TargetServiceRevisionArn && w > 0 {
			return true
		}
	}
	return false
}

func detailString(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

// detailInt reads a count ECS passed back: a JSON number, or a string if something rewrote it
// (or an int, from a caller that did not go through JSON).
func detailInt(d map[string]any, k string) int {
	switch v := d[k].(type) {
	case int:
		return max(v, 0)
	case float64:
		if v >= 0 && v < math.MaxInt32 {
			return int(v)
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n
		}
	}
	return 0
}

// tail keeps the last n bytes of s: an ARN's end is what tells it apart.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
