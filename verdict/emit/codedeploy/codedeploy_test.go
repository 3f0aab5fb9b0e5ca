package codedeploy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy/codedeploytest"
	"github.com/greenlight/greenlight/verdict/emit/emittest"
)

const (
	deploymentID = "d-7A3BC9XYZ"
	hookID       = "a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69"
)

// event returns the sample event of type t, about an analysis a hook started.
func event(t emit.EventType) emit.Event {
	for _, ev := range emittest.Events() {
		if ev.Type == t {
			ev.Analysis.Labels = map[string]string{codedeploy.LabelDeploymentID: deploymentID, codedeploy.LabelHookExecutionID: hookID, "team": "shop"}
			return ev
		}
	}
	panic("no sample event " + t)
}

func delivery(t *testing.T, ev emit.Event) emit.Delivery {
	t.Helper()
	b, err := emit.Encode(ev, emittest.Links, secret.NewRedactor())
	require.NoError(t, err)
	return emit.Delivery{ID: "evt_01TEST", Endpoint: "codedeploy", Type: ev.Type, Timestamp: ev.Time, Payload: b}
}

func notifier(t *testing.T, endpoint string, timeout time.Duration) *codedeploy.Notifier {
	t.Helper()
	n, err := codedeploy.New(codedeploy.Config{Name: "codedeploy", Endpoint: secret.Secret(endpoint), Timeout: timeout},
		codedeploy.Options{AWS: codedeploytest.AWSConfig()})
	require.NoError(t, err)
	return n
}

func TestEmitAnswersTheHook(t *testing.T) {
	promote := event(emit.Decided)
	promote.Verdict = emittest.Verdict()
	promote.Verdict.Decision, promote.Verdict.Reason = verdict.Promote, "every check passed"
	inconclusive := event(emit.Decided)
	inconclusive.Verdict = emittest.Verdict()
	inconclusive.Verdict.Decision, inconclusive.Verdict.Undecided = verdict.Inconclusive, true
	undecidedRollback := event(emit.Decided)
	undecidedRollback.Verdict = emittest.Verdict()
	undecidedRollback.Verdict.Undecided = true
	overriddenRollback := event(emit.Overridden)
	overriddenRollback.Verdict = emittest.Verdict()
	overriddenRollback.Verdict.Override = &verdict.Override{Decision: verdict.Rollback, By: "bo", Why: "not today", Was: verdict.Promote}

	for _, tc := range []struct {
		name string
		ev   emit.Event
		want string // the status sent; "" for no call
	}{
		{"promote", promote, "Succeeded"},
		{"rollback", event(emit.Decided), "Failed"},
		{"inconclusive", inconclusive, "Failed"},
		{"undecided, rolled back by policy", undecidedRollback, "Failed"},
		{"aborted", event(emit.Aborted), "Failed"},
		{"overridden to promote", event(emit.Overridden), "Succeeded"},
		{"overridden to rollback", overriddenRollback, "Failed"},
		{"started", event(emit.Started), ""},
		{"smoke done", event(emit.SmokeDone), ""},
		{"regression in the watch after promote", event(emit.WatchRegression), "Failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := codedeploytest.New(t)
			retry, err := notifier(t, fake.URL, 0).Emit(t.Context(), delivery(t, tc.ev))
			require.NoError(t, err)
			assert.False(t, retry)
			calls := fake.Recorded()
			if tc.want == "" {
				assert.Empty(t, calls)
				return
			}
			require.Len(t, calls, 1)
			c := calls[0]
			assert.Equal(t, "POST", c.Method)
			assert.Equal(t, "/", c.Path)
			assert.Equal(t, codedeploytest.Target, c.Target)
			assert.Equal(t, "application/x-amz-json-1.1", c.ContentType)
			assert.Regexp(t, `^AWS4-HMAC-SHA256 Credential=`+codedeploytest.AccessKey+`/\d{8}/us-east-1/codedeploy/aws4_request, SignedHeaders=\S*x-amz-target\S*, Signature=[0-9a-f]{64}$`, c.Authorization)
			assert.JSONEq(t, `{"deploymentId":"`+deploymentID+`","lifecycleEventHookExecutionId":"`+hookID+`","status":"`+tc.want+`"}`, c.Body)
			assert.Equal(t, codedeploytest.Input{DeploymentID: deploymentID, LifecycleEventHookExecutionID: hookID, Status: tc.want}, c.Input)
		})
	}
}

func TestEmitAcknowledgesAnalysesOfNoHook(t *testing.T) {
	fake := codedeploytest.New(t)
	n := notifier(t, fake.URL, 0)
	ev := event(emit.Decided)
	ev.Analysis.Labels = map[string]string{"team": "shop"}
	retry, err := n.Emit(t.Context(), delivery(t, ev))
	require.NoError(t, err)
	assert.False(t, retry)
	assert.Empty(t, fake.Recorded())

	ev.Analysis.Labels = map[string]string{codedeploy.LabelDeploymentID: deploymentID}
	retry, err = n.Emit(t.Context(), delivery(t, ev))
	require.Error(t, err)
	assert.False(t, retry, "a half-labelled analysis will never name a hook")
	assert.Contains(t, err.Error(), `codedeploy codedeploy: analysis an_01J9ZQ4T7W has only one of the labels codedeploy.deploymentId and codedeploy.hookExecutionId`)
	assert.Empty(t, fake.Recorded())

	retry, err = n.Emit(t.Context(), emit.Delivery{ID: "evt_x", Endpoint: "codedeploy", Type: emit.Decided, Payload: []byte("{")})
	require.Error(t, err)
	assert.False(t, retry)
}

func TestEmitRetriesOnlyWhatMaySucceed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply codedeploytest.Reply
		retry bool
	}{
		{"already completed", codedeploytest.Reply{Status: 400, Type: "LifecycleEventAlreadyCompletedException", Message: "The lifecycle event is already completed"}, false},
		{"unknown hook execution", codedeploytest.Reply{Status: 400, Type: "InvalidLifecycleEventHookExecutionIdException", Message: "bad id"}, false},
		{"unknown deployment", codedeploytest.Reply{Status: 400, Type: "DeploymentDoesNotExistException", Message: "no such deployment"}, false},
		{"invalid status", codedeploytest.Reply{Status: 400, Type: "InvalidLifecycleEventHookExecutionStatusException", Message: "bad status"}, false},
		{"unsupported", codedeploytest.Reply{Status: 400, Type: "UnsupportedActionForDeploymentTypeException", Message: "EC2/on-premises"}, false},
		{"access denied", codedeploytest.Reply{Status: 400, Type: "AccessDeniedException", Message: "not authorized"}, false},
		{"bad credentials", codedeploytest.Reply{Status: 400, Type: "UnrecognizedClientException", Message: "invalid token"}, false},
		{"throttled", codedeploytest.Reply{Status: 400, Type: "ThrottlingException", Message: "Rate exceeded"}, true},
		{"too many requests", codedeploytest.Reply{Status: 429, Type: "TooManyRequestsException", Message: "slow down"}, true},
		{"expired credentials", codedeploytest.Reply{Status: 400, Type: "ExpiredTokenException", Message: "expired"}, true},
		{"internal failure", codedeploytest.Reply{Status: 500, Type: "InternalFailure", Message: "oops"}, true},
		{"unavailable", codedeploytest.Reply{Status: 503, Type: "ServiceUnavailable", Message: "try later"}, true},
		{"bad gateway without a body type", codedeploytest.Reply{Status: 502}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := codedeploytest.New(t)
			fake.Queue(tc.reply)
			retry, err := notifier(t, fake.URL, 0).Emit(t.Context(), delivery(t, event(emit.Decided)))
			require.Error(t, err)
			assert.Equal(t, tc.retry, retry, "%v", err)
			assert.Contains(t, err.Error(), "codedeploy codedeploy: deployment "+deploymentID+", hook execution "+hookID+", Failed: ")
			if tc.reply.Type != "" {
				assert.Contains(t, err.Error(), tc.reply.Type)
			}
			assert.Len(t, fake.Recorded(), 1, "one attempt per Emit: the SDK's own retries are off")
		})
	}

	t.Run("no answer: connection refused", func(t *testing.T) {
		fake := codedeploytest.New(t)
		fake.Close()
		retry, err := notifier(t, fake.URL, 0).Emit(t.Context(), delivery(t, event(emit.Decided)))
		require.Error(t, err)
		assert.True(t, retry, "%v", err)
		assert.NotContains(t, err.Error(), fake.URL, "the endpoint's URL may carry a credential")
	})

	t.Run("no answer in time", func(t *testing.T) {
		release := make(chan struct{})
		stuck := codedeploytest.New(t)
		stuck.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		defer close(release)
		retry, err := notifier(t, stuck.URL, 20*time.Millisecond).Emit(t.Context(), delivery(t, event(emit.Decided)))
		require.Error(t, err)
		assert.True(t, retry, "%v", err)
	})
}

func TestConfigurationProblems(t *testing.T) {
	_, err := codedeploy.New(codedeploy.Config{}, codedeploy.Options{})
	assert.EqualError(t, err, "codedeploy: an endpoint needs a name")
	_, err = codedeploy.New(codedeploy.Config{Name: "cd", Endpoint: "ftp://codedeploy.test"}, codedeploy.Options{})
	assert.EqualError(t, err, `codedeploy "cd": endpoint: url must be an absolute http or https URL`)
	_, err = codedeploy.New(codedeploy.Config{Name: "cd", Timeout: -time.Second}, codedeploy.Options{})
	assert.EqualError(t, err, `codedeploy "cd": timeout must not be negative, got -1s`)

	// No region: nothing can be called, until the environment is fixed and the daemon restarted.
	cfg := codedeploytest.AWSConfig()
	cfg.Region = ""
	n, err := codedeploy.New(codedeploy.Config{Name: "cd"}, codedeploy.Options{AWS: cfg})
	require.NoError(t, err)
	retry, err := n.Emit(context.Background(), delivery(t, event(emit.Decided)))
	require.Error(t, err)
	assert.True(t, retry)
	assert.Contains(t, err.Error(), "codedeploy cd: no AWS region: set AWS_REGION")

	retry, err = n.Put(t.Context(), deploymentID, hookID, "InProgress")
	assert.False(t, retry)
	assert.EqualError(t, err, `codedeploy cd: status "InProgress": CodeDeploy accepts only Succeeded and Failed`)
	retry, err = n.Put(t.Context(), "", hookID, codedeploy.Failed)
	assert.False(t, retry)
	assert.EqualError(t, err, `codedeploy cd: a deployment id and a hook execution id are both needed`)
}

// The SDK's standard chain: region, credentials and the endpoint from the environment, as in a
// Lambda function or an ECS task.
func TestEmitReadsTheStandardChain(t *testing.T) {
	fake := codedeploytest.New(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-from-environment")
	t.Setenv("AWS_ENDPOINT_URL_CODEDEPLOY", fake.URL)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	n, err := codedeploy.New(codedeploy.Config{Name: "cd"}, codedeploy.Options{})
	require.NoError(t, err)
	_, err = n.Put(t.Context(), deploymentID, hookID, codedeploy.Failed)
	require.NoError(t, err)
	calls := fake.Recorded()
	require.Len(t, calls, 1)
	assert.Contains(t, calls[0].Authorization, "Credential=AKIDFROMENVIRONMENT/")
	assert.Contains(t, calls[0].Authorization, "/eu-west-1/codedeploy/aws4_request")
	assert.Equal(t, "Failed", calls[0].Input.Status)
}
