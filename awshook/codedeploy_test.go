package awshook_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy/codedeploytest"
)

var cdEvent = awshook.CodeDeployEvent{DeploymentID: "d-7A3BC9XYZ", LifecycleEventHookExecutionID: "a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69"}

func TestCodeDeployStartsTheAnalysisAndReturns(t *testing.T) {
	d := newFakeDaemon(t, func(request) (int, any) { return http.StatusCreated, analysisAnswer("an_1", "running") })
	cd := codedeploytest.New(t)
	h := awshook.New(config(d.URL), awshook.Options{CodeDeploy: reporter(t, cd)})

	res, err := h.CodeDeploy(t.Context(), cdEvent)
	require.NoError(t, err)
	assert.Equal(t, awshook.CodeDeployResult{Analysis: "an_1", State: "running"}, res)
	assert.Equal(t, []request{{
		Method: "POST", Path: "/api/v1/analyses", Authorization: "Bearer " + token,
		Body: map[string]any{
			"spec": "checkout", "key": "codedeploy:d-7A3BC9XYZ:a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69",
			"environments": map[string]any{"blue": "https://prod.checkout.internal", "green": "https://test.checkout.internal:8443"},
			"labels": map[string]any{"team": "shop", "codedeploy.deploymentId": "d-7A3BC9XYZ",
				"codedeploy.hookExecutionId": "a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69"},
		},
	}}, d.got())
	assert.Empty(t, cd.Recorded(), "the daemon reports the status, once decided")

	// Through Invoke, as the Lambda runtime calls it.
	out, err := h.Invoke(t.Context(), json.RawMessage(`{"DeploymentId":"d-7A3BC9XYZ","LifecycleEventHookExecutionId":"a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69"}`))
	require.NoError(t, err)
	assert.Equal(t, awshook.CodeDeployResult{Analysis: "an_1", State: "running"}, out)
}

func TestCodeDeployReportsFailedWithoutAnAnalysis(t *testing.T) {
	gone := newFakeDaemon(t, nil)
	gone.Close()
	for _, tc := range []struct {
		name   string
		daemon func(t *testing.T) string
		reason string
	}{
		{"daemon out of reach", func(*testing.T) string { return gone.URL }, "greenlight did not start the analysis: POST /api/v1/analyses: "},
		{"unknown spec", func(t *testing.T) string {
			return newFakeDaemon(t, func(request) (int, any) {
				return http.StatusUnprocessableEntity, map[string]any{"error": "invalid analysis request", "fields": []any{map[string]any{"field": "spec", "message": `no analysis named "checkout"`}}}
			}).URL
		}, `greenlight answered 422 Unprocessable Entity: {"error":"invalid analysis request"`},
		{"daemon failing", func(t *testing.T) string {
			return newFakeDaemon(t, func(request) (int, any) {
				return http.StatusServiceUnavailable, map[string]any{"error": "greenlight is shutting down"}
			}).URL
		}, "greenlight answered 503 Service Unavailable"},
		{"not a greenlight answer", func(t *testing.T) string {
			return newFakeDaemon(t, func(request) (int, any) { return http.StatusOK, map[string]any{"hello": "world"} }).URL
		}, "the answer names no analysis or verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cd := codedeploytest.New(t)
			h := awshook.New(config(tc.daemon(t)), awshook.Options{CodeDeploy: reporter(t, cd)})
			res, err := h.CodeDeploy(t.Context(), cdEvent)
			require.NoError(t, err, "the hook is answered: Lambda must not invoke the function again")
			assert.Equal(t, "Failed", res.Reported)
			assert.Contains(t, res.Reason, tc.reason)
			assert.NotContains(t, res.Reason, token)
			calls := cd.Recorded()
			require.Len(t, calls, 1)
			assert.Equal(t, codedeploytest.Target, calls[0].Target)
			assert.JSONEq(t, `{"deploymentId":"d-7A3BC9XYZ","lifecycleEventHookExecutionId":"a8f3e0d2-65b1-4c7e-9b0e-2f1d3c4b5a69","status":"Failed"}`, calls[0].Body)
		})
	}

	t.Run("the hook already has a status", func(t *testing.T) {
		cd := codedeploytest.New(t)
		cd.Queue(codedeploytest.Reply{Status: 400, Type: "LifecycleEventAlreadyCompletedException", Message: "already completed"})
		res, err := awshook.New(config(gone.URL), awshook.Options{CodeDeploy: reporter(t, cd)}).CodeDeploy(t.Context(), cdEvent)
		require.NoError(t, err)
		assert.Equal(t, "Failed", res.Reported)
	})

	t.Run("the report fails too: Lambda invokes again", func(t *testing.T) {
		cd := codedeploytest.New(t)
		cd.Queue(codedeploytest.Reply{Status: 500, Type: "InternalFailure", Message: "oops"})
		_, err := awshook.New(config(gone.URL), awshook.Options{CodeDeploy: reporter(t, cd)}).CodeDeploy(t.Context(), cdEvent)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "greenlight did not start the analysis")
		assert.Contains(t, err.Error(), "reporting Failed: codedeploy lambda: deployment d-7A3BC9XYZ")
	})
}

func TestMisconfiguredHookFailsEveryDeployment(t *testing.T) {
	cd := codedeploytest.New(t)
	h := awshook.New(awshook.Config{Spec: "checkout"}, awshook.Options{CodeDeploy: reporter(t, cd)})
	res, err := h.CodeDeploy(t.Context(), cdEvent)
	require.NoError(t, err)
	assert.Equal(t, "Failed", res.Reported)
	assert.Contains(t, res.Reason, "the hook's configuration: GREENLIGHT_URL: the daemon's URL is required")
	require.Len(t, cd.Recorded(), 1)
	assert.Equal(t, "Failed", cd.Recorded()[0].Input.Status)

	ecs, err := h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", nil))
	require.NoError(t, err)
	assert.Equal(t, awshook.ECSResponse{HookStatus: "FAILED"}, ecs)
}

func TestInvokeTellsTheEventsApart(t *testing.T) {
	h := awshook.New(config("http://127.0.0.1:1"), awshook.Options{})
	for _, payload := range []string{`{}`, `{"detail-type":"CodeDeploy Deployment State-change Notification"}`, `[1]`} {
		_, err := h.Invoke(t.Context(), json.RawMessage(payload))
		assert.Error(t, err, payload)
	}
	_, err := h.Invoke(t.Context(), json.RawMessage(`{"DeploymentId":"d-1"}`))
	assert.EqualError(t, err, "the CodeDeploy event needs both DeploymentId and LifecycleEventHookExecutionId")
	_, err = h.Invoke(t.Context(), json.RawMessage(`{"lifecycleStage":"POST_SCALE_UP"}`))
	assert.EqualError(t, err, "the ECS lifecycle hook event needs resourceArn and lifecycleStage")
}
