package codedeploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
)

// DefaultTimeout bounds one call when the configuration sets none.
const DefaultTimeout = 15 * time.Second

// The statuses a hook accepts: CodeDeploy refuses the others.
const (
	Succeeded = types.LifecycleEventStatusSucceeded
	Failed    = types.LifecycleEventStatusFailed
)

// Config is one CodeDeploy endpoint.
type Config struct {
	// Name identifies the endpoint in deliveries, logs and errors.
	Name string
	// Endpoint, when set, replaces the service's endpoint URL (the SDK's BaseEndpoint): a
	// local fake in tests, a VPC endpoint. Otherwise the SDK resolves it from the region (or
	// from AWS_ENDPOINT_URL_CODEDEPLOY).
	Endpoint secret.Secret
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
}

// Options are what the caller provides besides the configuration.
type Options struct {
	// Client sends the requests (the SDK's own when nil).
	Client *http.Client
	// AWS is the SDK configuration to use; when nil the standard chain is read at the first
	// call (environment, shared files, the instance or task role).
	AWS *aws.Config
}

// Notifier reports hook statuses to CodeDeploy. It implements emit.Emitter.
type Notifier struct {
	name     string
	endpoint string
	timeout  time.Duration
	httpc    *http.Client
	redact   *secret.Redactor

	mu     sync.Mutex
	cfg    *aws.Config
	client *codedeploy.Client
}

var _ emit.Emitter = (*Notifier)(nil)

// New checks the configuration and returns the endpoint's notifier. It reads no AWS
// configuration yet: that waits for the first call, which has a context.
func New(c Config, o Options) (*Notifier, error) {
	if c.Name == "" {
		return nil, errors.New("codedeploy: an endpoint needs a name")
	}
	raw := strings.TrimSpace(c.Endpoint.Reveal())
	if raw != "" {
		if err := emit.CheckURL(raw); err != nil {
			return nil, fmt.Errorf("codedeploy %q: endpoint: %w", c.Name, err)
		}
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("codedeploy %q: timeout must not be negative, got %s", c.Name, c.Timeout)
	}
	n := &Notifier{name: c.Name, endpoint: raw, timeout: c.Timeout, httpc: o.Client, cfg: o.AWS, redact: secret.NewRedactor()}
	if raw != "" {
		n.redact.Add(emit.URLSecrets(raw)...)
	}
	if n.timeout == 0 {
		n.timeout = DefaultTimeout
	}
	return n, nil
}

// api returns the CodeDeploy client, reading the AWS configuration the first time. A failure
// is not kept: the next call reads it again.
func (n *Notifier) api(ctx context.Context) (*codedeploy.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client != nil {
		return n.client, nil
	}
	var cfg aws.Config
	if n.cfg != nil {
		cfg = n.cfg.Copy()
	} else {
		loaded, err := config.LoadDefaultConfig(ctx, config.WithAppID("greenlight"))
		if err != nil {
			return nil, fmt.Errorf("read the AWS configuration: %w", err)
		}
		cfg = loaded
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or the region in the shared configuration)")
	}
	n.client = codedeploy.NewFromConfig(cfg, func(o *codedeploy.Options) {
		// One attempt per call: the dispatcher retries, with one policy for every endpoint.
		o.Retryer = aws.NopRetryer{}
		if n.httpc != nil {
			o.HTTPClient = n.httpc
		}
		if n.endpoint != "" {
			o.BaseEndpoint = aws.String(n.endpoint)
		}
	})
	return n.client, nil
}

// Put sets a hook's status: one call. retry says whether another call may succeed (see
// Retryable). The hook Lambda uses it to report Failed itself when the daemon is out of reach.
func (n *Notifier) Put(ctx context.Context, deploymentID, hookExecutionID string, status types.LifecycleEventStatus) (retry bool, err error) {
	if deploymentID == "" || hookExecutionID == "" {
		return false, n.fail(errors.New("a deployment id and a hook execution id are both needed"))
	}
	if status != Succeeded && status != Failed {
		return false, n.fail(fmt.Errorf("status %q: CodeDeploy accepts only Succeeded and Failed", status))
	}
	client, err := n.api(ctx)
	if err != nil {
		// The environment may be fixed (and the daemon restarted) while the delivery waits.
		return true, n.fail(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	_, err = client.PutLifecycleEventHookExecutionStatus(callCtx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
		DeploymentId:                  aws.String(deploymentID),
		LifecycleEventHookExecutionId: aws.String(hookExecutionID),
		Status:                        status,
	})
	if err == nil {
		return false, nil
	}
	// A call cut short by its own timeout, or by the caller, may succeed later.
	retry = callCtx.Err() != nil || Retryable(err)
	return retry, n.fail(fmt.Errorf("deployment %s, hook execution %s, %s: %w", deploymentID, hookExecutionID, status, err))
}

// Emit reports the analysis's end to the hook its labels name; see the package comment.
func (n *Notifier) Emit(ctx context.Context, d emit.Delivery) (bool, error) {
	p, err := emit.Decode(d.Payload)
	if err != nil {
		return false, n.fail(err)
	}
	t, err := TargetOf(p)
	if err != nil {
		return false, n.fail(err)
	}
	if t == nil {
		return false, nil
	}
	return n.Put(ctx, t.DeploymentID, t.HookExecutionID, t.Status)
}

func (n *Notifier) fail(err error) error {
	return emit.EndpointError("codedeploy", n.name, n.redact, err)
}
