package awshook_test

import (
	"net/http"
	"strings"
	"testing"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
)

const (
	deploymentArn = "arn:aws:ecs:us-west-2:123456789012:service-deployment/shop/checkout/EZe5RNVLH6PPzHXINuP28"
	serviceArn    = "arn:aws:ecs:us-west-2:123456789012:service/shop/checkout"
	green         = "arn:aws:ecs:us-west-2:123456789012:service-revision/shop/checkout/9313423515462893900"
	blue          = "arn:aws:ecs:us-west-2:123456789012:service-revision/shop/checkout/1920498462936580504"
)

func ecsEvent(stage string, details map[string]any) awshook.ECSEvent {
	return awshook.ECSEvent{
		ExecutionID: "3a0345ba-b029-404b-890d-7da2a4b266aa", LifecycleStage: ecsStage(stage), ResourceArn: deploymentArn,
		ExecutionDetails: awshook.ECSExecutionDetails{ServiceArn: serviceArn, TargetServiceRevisionArn: green,
			TestTrafficWeights: map[string]float64{}, ProductionTrafficWeights: map[string]float64{}},
		HookDetails: details,
	}
}

func TestECSHookWaitsForTheVerdict(t *testing.T) {
	for _, tc := range []struct {
		verdict string
		want    string
	}{
		{"promote", "SUCCEEDED"},
		{"rollback", "FAILED"},
		{"inconclusive", "FAILED"},
	} {
		t.Run(tc.verdict, func(t *testing.T) {
			decided := false
			d := newFakeDaemon(t, func(r request) (int, any) {
				switch {
				case r.Method == "POST":
					return http.StatusCreated, analysisAnswer("an_7", "running")
				case decided:
					return http.StatusOK, analysisAnswer("an_7", tc.verdict)
				}
				return http.StatusOK, analysisAnswer("an_7", "running")
			})
			h := awshook.New(config(d.URL), awshook.Options{})
			key := "ecs:" + deploymentArn + ":POST_TEST_TRAFFIC_SHIFT"

			first, err := h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", map[string]any{"team": "configured"}))
			require.NoError(t, err)
			inProgress := awshook.ECSResponse{HookStatus: "IN_PROGRESS", CallBackDelay: 30,
				HookDetails: map[string]any{"greenlightAnalysisId": "an_7", "greenlightKey": key, "greenlightErrors": 0}}
			assert.Equal(t, inProgress, first)

			// ECS passes hookDetails back, merged with the configured ones (JSON numbers as float64).
			back := map[string]any{"team": "configured", "greenlightAnalysisId": "an_7", "greenlightKey": key, "greenlightErrors": float64(0)}
			second, err := h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", back))
			require.NoError(t, err)
			assert.Equal(t, inProgress, second)

			decided = true
			third, err := h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", back))
			require.NoError(t, err)
			assert.Equal(t, awshook.ECSResponse{HookStatus: ecstypes.DeploymentLifecycleHookStatus(tc.want)}, third)

			reqs := d.got()
			require.Len(t, reqs, 3)
			assert.Equal(t, "POST", reqs[0].Method)
			assert.Equal(t, key, reqs[0].Body["key"])
			assert.Equal(t, map[string]any{"team": "shop", "ecs.serviceDeploymentArn": deploymentArn, "ecs.lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
				"ecs.serviceArn": serviceArn, "ecs.targetServiceRevisionArn": green}, reqs[0].Body["labels"])
			for _, r := range reqs[1:] {
				assert.Equal(t, "GET /api/v1/analyses/an_7/verdict", r.Method+" "+r.Path)
				assert.Equal(t, "Bearer "+token, r.Authorization)
			}
		})
	}
}

func TestECSHookNeverPassesWithoutTheDaemon(t *testing.T) {
	gone := newFakeDaemon(t, nil)
	gone.Close()
	h := awshook.New(config(gone.URL), awshook.Options{})
	key := "ecs:" + deploymentArn + ":POST_TEST_TRAFFIC_SHIFT"

	res, err := h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", nil))
	require.NoError(t, err)
	assert.Equal(t, awshook.ECSResponse{HookStatus: "IN_PROGRESS", CallBackDelay: 30,
		HookDetails: map[string]any{"greenlightAnalysisId": "", "greenlightKey": key, "greenlightErrors": 1}}, res)
	res, err = h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", res.HookDetails))
	require.NoError(t, err)
	assert.Equal(t, 2, res.HookDetails["greenlightErrors"])
	res, err = h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", res.HookDetails))
	require.NoError(t, err)
	assert.Equal(t, awshook.ECSResponse{HookStatus: "FAILED"}, res, "three invocations in a row without the daemon")

	// While polling: the analysis id is kept across the errors.
	res, err = h.ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", map[string]any{"greenlightAnalysisId": "an_7", "greenlightKey": key, "greenlightErrors": "1"}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"greenlightAnalysisId": "an_7", "greenlightKey": key, "greenlightErrors": 2}, res.HookDetails)

	// A refusal is final at once: an analysis the daemon does not know, a bad token.
	for _, status := range []int{http.StatusNotFound, http.StatusUnauthorized, http.StatusUnprocessableEntity} {
		d := newFakeDaemon(t, func(request) (int, any) { return status, map[string]any{"error": "no"} })
		res, err := awshook.New(config(d.URL), awshook.Options{}).ECS(t.Context(), ecsEvent("POST_TEST_TRAFFIC_SHIFT", map[string]any{"greenlightAnalysisId": "an_7", "greenlightKey": key}))
		require.NoError(t, err)
		assert.Equal(t, awshook.ECSResponse{HookStatus: "FAILED"}, res, "status %d", status)
	}
}

func TestECSHookLetsARollbackThrough(t *testing.T) {
	d := newFakeDaemon(t, func(request) (int, any) { return http.StatusCreated, analysisAnswer("an_1", "running") })
	h := awshook.New(config(d.URL), awshook.Options{})

	back := ecsEvent("PRODUCTION_TRAFFIC_SHIFT", nil)
	back.ExecutionDetails.ProductionTrafficWeights = map[string]float64{green: 0, blue: 100}
	res, err := h.ECS(t.Context(), back)
	require.NoError(t, err)
	assert.Equal(t, awshook.ECSResponse{HookStatus: "SUCCEEDED"}, res)
	testBack := ecsEvent("TEST_TRAFFIC_SHIFT", nil)
	testBack.ExecutionDetails.TestTrafficWeights = map[string]float64{green: 0, blue: 100}
	res, err = h.ECS(t.Context(), testBack)
	require.NoError(t, err)
	assert.Equal(t, awshook.ECSResponse{HookStatus: "SUCCEEDED"}, res)
	assert.Empty(t, d.got(), "nothing to judge during a rollback")

	// Going forward, the same stages are judged, one analysis per traffic step.
	var keys []string
	for _, w := range []float64{10, 100} {
		step := ecsEvent("PRODUCTION_TRAFFIC_SHIFT", nil)
		step.ExecutionDetails.ProductionTrafficWeights = map[string]float64{green: w, blue: 100 - w}
		res, err := h.ECS(t.Context(), step)
		require.NoError(t, err)
		assert.Equal(t, "IN_PROGRESS", string(res.HookStatus))
		keys = append(keys, res.HookDetails["greenlightKey"].(string))
	}
	assert.Equal(t, []string{"ecs:" + deploymentArn + ":PRODUCTION_TRAFFIC_SHIFT:test=0:prod=10", "ecs:" + deploymentArn + ":PRODUCTION_TRAFFIC_SHIFT:test=0:prod=100"}, keys)

	// hookDetails left from the step before name another key: a new analysis is started.
	step := ecsEvent("PRODUCTION_TRAFFIC_SHIFT", map[string]any{"greenlightAnalysisId": "an_old", "greenlightKey": keys[0]})
	step.ExecutionDetails.ProductionTrafficWeights = map[string]float64{green: 100, blue: 0}
	_, err = h.ECS(t.Context(), step)
	require.NoError(t, err)
	reqs := d.got()
	assert.Equal(t, "POST", reqs[len(reqs)-1].Method)
	assert.Equal(t, keys[1], reqs[len(reqs)-1].Body["key"])
}

func TestECSKeyStaysWithinTheDaemonsBound(t *testing.T) {
	d := newFakeDaemon(t, func(request) (int, any) { return http.StatusCreated, analysisAnswer("an_1", "running") })
	ev := ecsEvent("POST_SCALE_UP", nil)
	ev.ResourceArn = "arn:aws:ecs:us-west-2:123456789012:service-deployment/" + strings.Repeat("c", 300)
	res, err := awshook.New(config(d.URL), awshook.Options{}).ECS(t.Context(), ev)
	require.NoError(t, err)
	key := res.HookDetails["greenlightKey"].(string)
	assert.Regexp(t, `^ecs:sha256:[0-9a-f]{64}$`, key)
	labels := d.got()[0].Body["labels"].(map[string]any)
	assert.Len(t, labels["ecs.serviceDeploymentArn"], 256)
}
