package awshook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// Reporter sets a CodeDeploy hook's status (codedeploy.Notifier).
type Reporter interface {
	Put(ctx context.Context, deploymentID, hookExecutionID string, status types.LifecycleEventStatus) (retry bool, err error)
}

// Options are what the function provides besides the configuration.
type Options struct {
	// Client reaches the daemon (a client of its own when nil).
	Client *http.Client
	// CodeDeploy reports Failed when the daemon cannot start an analysis (required).
	CodeDeploy Reporter
	Logger     *slog.Logger // default: discard
}

// Hook handles the invocations.
type Hook struct {
	cfg    Config
	broken error // a configuration problem: every invocation fails, safely
	daemon *daemon
	cd     Reporter
	log    *slog.Logger
}

// New returns the hook. A configuration that does not validate gives a hook that fails every
// deployment it is asked about (as Refuse does) rather than none at all.
func New(cfg Config, o Options) *Hook {
	if err := cfg.Validate(); err != nil {
		return Refuse(err, o)
	}
	h := newHook(o)
	h.cfg = cfg
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	h.daemon = &daemon{base: cfg.URL, token: cfg.Token, client: client, timeout: cfg.Timeout}
	return h
}

// Refuse returns a hook that answers every invocation with a failure, saying why: what the
// function runs when its configuration cannot be read. A CodeDeploy hook is reported Failed at
// once instead of timing out an hour later; an ECS hook answers FAILED.
func Refuse(why error, o Options) *Hook {
	h := newHook(o)
	h.broken = fmt.Errorf("the hook's configuration: %w", why)
	return h
}

func newHook(o Options) *Hook {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hook{cd: o.CodeDeploy, log: log}
}

// Invoke handles one invocation, telling a CodeDeploy event from an ECS one by its fields:
// the function the Lambda runtime calls (lambda.Start(h.Invoke)).
func (h *Hook) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		DeploymentID   string `json:"DeploymentId"`
		HookID         string `json:"LifecycleEventHookExecutionId"`
		LifecycleStage string `json:"lifecycleStage"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("read the event: %w", err)
	}
	switch {
	case probe.DeploymentID != "" || probe.HookID != "":
		var ev CodeDeployEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("read the CodeDeploy event: %w", err)
		}
		return h.CodeDeploy(ctx, ev)
	case probe.LifecycleStage != "":
		var ev ECSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("read the ECS lifecycle hook event: %w", err)
		}
		return h.ECS(ctx, ev)
	}
	return nil, errors.New("neither a CodeDeploy lifecycle hook event (DeploymentId, LifecycleEventHookExecutionId) nor an ECS lifecycle hook event (lifecycleStage)")
}
