package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy/codedeploytest"
	"github.com/greenlight/greenlight/verdict/emit/endpoints"
)

// The daemon and the function sign with different keys, so that each call shows who made it.
const (
	daemonKey = "AKIDDAEMONTEST"
	lambdaKey = "AKIDLAMBDATEST"
)

// TestHookFunctionAgainstTheDaemon runs the function in the Lambda runtime interface emulator
// against a real daemon, whose codedeploy endpoint reaches a local CodeDeploy through the SDK's
// standard chain and its delivery through the store's outbox and verdict/emit's dispatcher:
//
//   - promote: the CodeDeploy hook gets Succeeded from the daemon; the ECS hook answers
//     IN_PROGRESS with the analysis id, then SUCCEEDED;
//   - rollback: Failed and FAILED; an override to promote afterwards is refused by CodeDeploy
//     (the hook is completed) and that delivery is dead, never retried;
//   - daemon down: the function reports Failed to CodeDeploy itself; the ECS hook answers
//     FAILED after three invocations without the daemon.
func TestHookFunctionAgainstTheDaemon(t *testing.T) {
	cd := codedeploytest.New(t)
	// The daemon reads the AWS SDK's standard chain, as in an ECS task or on EC2.
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_REGION": codedeploytest.Region, "AWS_ACCESS_KEY_ID": daemonKey, "AWS_SECRET_ACCESS_KEY": "daemon-secret",
		"AWS_CONFIG_FILE": dir + "/no-config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/no-credentials", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	emitters, routes, err := endpoints.Build([]endpoints.Config{{Name: "codedeploy", Kind: "codedeploy", URL: secret.Secret(cd.URL),
		Events: []emit.EventType{emit.Decided, emit.WatchRegression, emit.Aborted, emit.Overridden}}}, endpoints.Options{})
	require.NoError(t, err)
	d := startDaemon(t, &server.Notifications{Endpoints: []server.Endpoint{{Route: routes[0], AllAnalyses: true}}, Emitters: emitters})

	function := func(t *testing.T, daemonURL string, greenHealthy bool, extra ...string) *emulated {
		blue, green := apps(t, greenHealthy)
		env := map[string]string{
			"GREENLIGHT_URL": daemonURL, "GREENLIGHT_TOKEN": writeToken, "GREENLIGHT_SPEC": "checkout",
			"GREENLIGHT_ENVIRONMENTS": "blue=" + blue + ",green=" + green, "GREENLIGHT_LABELS": "team=shop",
			"AWS_REGION": codedeploytest.Region, "AWS_ACCESS_KEY_ID": lambdaKey, "AWS_SECRET_ACCESS_KEY": "lambda-secret",
			"AWS_ENDPOINT_URL_CODEDEPLOY": cd.URL,
		}
		for i := 0; i+1 < len(extra); i += 2 {
			env[extra[i]] = extra[i+1]
		}
		return startFunction(t, env)
	}
	// callsFor returns the CodeDeploy calls about one deployment.
	callsFor := func(deployment string) []codedeploytest.Call {
		var out []codedeploytest.Call
		for _, c := range cd.Recorded() {
			if c.Input.DeploymentID == deployment {
				out = append(out, c)
			}
		}
		return out
	}
	assertCall := func(t *testing.T, c codedeploytest.Call, key, deployment, hook, status string) {
		t.Helper()
		assert.Equal(t, codedeploytest.Target, c.Target)
		assert.Equal(t, "application/x-amz-json-1.1", c.ContentType)
		assert.Contains(t, c.Authorization, "Credential="+key+"/")
		assert.JSONEq(t, `{"deploymentId":"`+deployment+`","lifecycleEventHookExecutionId":"`+hook+`","status":"`+status+`"}`, c.Body)
	}
	ecsEvent := func(deployment string, details map[string]any) map[string]any {
		ev := map[string]any{
			"executionId": "3a0345ba-b029-404b-890d-7da2a4b266aa", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
			"resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/checkout/" + deployment,
			"executionDetails": map[string]any{
				"serviceArn":               "arn:aws:ecs:us-east-1:123456789012:service/shop/checkout",
				"targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/checkout/9313423515462893900",
				"testTrafficWeights":       map[string]any{}, "productionTrafficWeights": map[string]any{},
			},
		}
		if details != nil {
			ev["hookDetails"] = details
		}
		return ev
	}

	hookAnalyses := map[string]string{} // the CodeDeploy hook's analysis of each case
	for _, tc := range []struct {
		name       string
		healthy    bool
		verdict    string
		codeDeploy string
		ecs        string
	}{
		{"promote", true, "promote", "Succeeded", "SUCCEEDED"},
		{"rollback", false, "rollback", "Failed", "FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := function(t, d.url, tc.healthy)
			deployment, hook := "d-"+strings.ToUpper(tc.name), "hook-"+tc.name

			var res awshook.CodeDeployResult
			fn.invoke(map[string]string{"DeploymentId": deployment, "LifecycleEventHookExecutionId": hook}, &res)
			require.NotEmpty(t, res.Analysis)
			hookAnalyses[tc.name] = res.Analysis
			assert.Empty(t, res.Reported, "the function returns at once; the daemon reports")
			v, reason := d.waitVerdict(t, res.Analysis)
			require.Equal(t, tc.verdict, v, reason)
			ds := d.settled(t, res.Analysis, 1)
			calls := callsFor(deployment)
			require.Len(t, calls, 1)
			assertCall(t, calls[0], daemonKey, deployment, hook, tc.codeDeploy)
			require.Len(t, ds, 1)
			assert.Equal(t, store.DeliveryDelivered, ds[0].State)
			assert.Equal(t, "codedeploy", ds[0].Target)

			// A repeated invocation (Lambda retries) finds the same analysis.
			var again awshook.CodeDeployResult
			fn.invoke(map[string]string{"DeploymentId": deployment, "LifecycleEventHookExecutionId": hook}, &again)
			assert.Equal(t, res.Analysis, again.Analysis)
			assert.Equal(t, tc.verdict, again.State)

			var first awshook.ECSResponse
			fn.invoke(ecsEvent(deployment, map[string]any{"configured": "by the service"}), &first)
			require.Equal(t, "IN_PROGRESS", string(first.HookStatus), "%+v", first)
			assert.Equal(t, 30, first.CallBackDelay)
			id, _ := first.HookDetails["greenlightAnalysisId"].(string)
			require.NotEmpty(t, id)
			assert.NotEqual(t, res.Analysis, id, "another hook, another analysis")
			v, reason = d.waitVerdict(t, id)
			require.Equal(t, tc.verdict, v, reason)
			details := first.HookDetails
			details["configured"] = "by the service"
			var last awshook.ECSResponse
			fn.invoke(ecsEvent(deployment, details), &last)
			assert.Equal(t, awshook.ECSResponse{HookStatus: last.HookStatus}, last)
			assert.Equal(t, tc.ecs, string(last.HookStatus))
		})
	}

	t.Run("rollback overridden once the hook is completed", func(t *testing.T) {
		calls := callsFor("d-ROLLBACK")
		require.Len(t, calls, 1, "the rollback subtest ran")
		id := hookAnalyses["rollback"]
		cd.Queue(codedeploytest.Reply{Status: 400, Type: "LifecycleEventAlreadyCompletedException", Message: "The lifecycle event is already completed"})
		d.override(t, id, "promote")
		ds := d.settled(t, id, 2)
		calls = callsFor("d-ROLLBACK")
		require.Len(t, calls, 2)
		assertCall(t, calls[1], daemonKey, "d-ROLLBACK", "hook-rollback", "Succeeded")
		require.Len(t, ds, 2)
		assert.Equal(t, store.DeliveryDead, ds[1].State, "a completed hook is final: not retried")
		assert.Equal(t, 1, ds[1].Attempts)
		assert.Contains(t, ds[1].LastError, "LifecycleEventAlreadyCompletedException")
	})

	// A second function, configured for the watch, at AfterAllowTraffic: the traffic is on
	// green; the daemon answers the hook when the watch ends — Succeeded with no regression,
	// Failed at the first one (and CodeDeploy switches the traffic back).
	for _, tc := range []struct {
		name       string
		healthy    bool
		verdict    string
		codeDeploy string
	}{
		{"watch after the switch: no regression", true, "promote", "Succeeded"},
		{"watch after the switch: a regression", false, "rollback", "Failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := function(t, d.url, tc.healthy, "GREENLIGHT_MODE", "watch", "GREENLIGHT_WATCH", "2s")
			deployment := "d-WATCH-" + strings.ToUpper(tc.verdict)
			var res awshook.CodeDeployResult
			fn.invoke(map[string]string{"DeploymentId": deployment, "LifecycleEventHookExecutionId": "hook-after-allow-traffic"}, &res)
			require.NotEmpty(t, res.Analysis)
			v, reason := d.waitVerdict(t, res.Analysis)
			require.Equal(t, tc.verdict, v, reason)
			d.settled(t, res.Analysis, 1)
			calls := callsFor(deployment)
			require.Len(t, calls, 1)
			assertCall(t, calls[0], daemonKey, deployment, "hook-after-allow-traffic", tc.codeDeploy)
		})
	}

	t.Run("daemon down", func(t *testing.T) {
		gone := httptest.NewServer(nil)
		gone.Close()
		fn := function(t, gone.URL, true)

		var res awshook.CodeDeployResult
		fn.invoke(map[string]string{"DeploymentId": "d-DOWN", "LifecycleEventHookExecutionId": "hook-down"}, &res)
		assert.Equal(t, "Failed", res.Reported)
		assert.Contains(t, res.Reason, "greenlight did not start the analysis")
		calls := callsFor("d-DOWN")
		require.Len(t, calls, 1)
		assertCall(t, calls[0], lambdaKey, "d-DOWN", "hook-down", "Failed")

		var details map[string]any
		for i := 1; i <= 3; i++ {
			var r awshook.ECSResponse
			fn.invoke(ecsEvent("d-DOWN", details), &r)
			if i == 3 {
				assert.Equal(t, awshook.ECSResponse{HookStatus: "FAILED"}, r, "never SUCCEEDED without the daemon")
				break
			}
			require.Equal(t, "IN_PROGRESS", string(r.HookStatus))
			assert.EqualValues(t, i, r.HookDetails["greenlightErrors"])
			details = r.HookDetails
		}
	})
}
