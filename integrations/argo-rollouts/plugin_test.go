package argorollouts_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	argoconfig "github.com/argoproj/argo-rollouts/utils/config"
	argoplugin "github.com/argoproj/argo-rollouts/utils/plugin"
	plugintypes "github.com/argoproj/argo-rollouts/utils/plugin/types"

	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/argotest"
	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/daemontest"
	"github.com/greenlight/greenlight/integrations/argo-rollouts/provider"
)

const pollInterval = 10 * time.Second // pollInterval in deploy/argo-rollouts/plugin

// pluginDeployment is the example Rollout with the plugin's templates in place of the web
// provider's, as docs/integrations/argo-rollouts.md says to use them.
func pluginDeployment(t *testing.T) deployment {
	t.Helper()
	d := loadDeployment(t, "rollout.yaml", "plugin/analysis-templates.yaml", "plugin/argo-rollouts-config.yaml")
	bg := d.Rollout.Spec.Strategy.BlueGreen
	bg.PrePromotionAnalysis.Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "greenlight-plugin-pre-promotion"}}
	bg.PostPromotionAnalysis.Templates = []v1alpha1.AnalysisTemplateRef{{TemplateName: "greenlight-plugin-post-promotion"}}
	return d
}

var (
	installOnce sync.Once
	installErr  error
)

// installPlugin does what Argo's controller does at start with argo-rollouts-config: loads the
// ConfigMap (deploy/argo-rollouts/plugin's, the location pointing at the binary the test built)
// and puts the plugin in place. Argo's plugin client then starts it on first use.
func installPlugin(t *testing.T, d deployment) {
	t.Helper()
	installOnce.Do(func() {
		cm := d.Config.DeepCopy()
		var plugins []plugintypes.PluginItem
		if installErr = yaml.UnmarshalStrict([]byte(cm.Data["metricProviderPlugins"]), &plugins); installErr != nil {
			return
		}
		for i := range plugins {
			plugins[i].Location = "file://" + pluginBin
		}
		data, err := yaml.Marshal(plugins)
		if installErr = err; err != nil {
			return
		}
		cm.Data["metricProviderPlugins"] = string(data)
		kube := k8sfake.NewSimpleClientset(cm)
		if _, installErr = argoconfig.InitializeConfig(kube, cm.Name); installErr != nil {
			return
		}
		installErr = argoplugin.DownloadPlugins(argoplugin.FileDownloaderImpl{}, kube)
	})
	require.NoError(t, installErr)
}

// TestPluginInstallIsConsistent: the ConfigMap registers the plugin under the name its
// templates use, at the path the controller patch builds it to, and the controller's
// environment carries the token variable the templates name.
func TestPluginInstallIsConsistent(t *testing.T) {
	d := pluginDeployment(t)
	require.NotNil(t, d.Config)
	assert.Equal(t, "argo-rollouts-config", d.Config.Name)
	var plugins []plugintypes.PluginItem
	require.NoError(t, yaml.UnmarshalStrict([]byte(d.Config.Data["metricProviderPlugins"]), &plugins))
	require.Len(t, plugins, 1)
	assert.Equal(t, provider.Name, plugins[0].Name)
	location := strings.TrimPrefix(plugins[0].Location, "file://")

	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "argo-rollouts", "plugin", "controller.yaml"))
	require.NoError(t, err)
	var patch appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(data, &patch))
	pod := patch.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 1)
	assert.Contains(t, strings.Join(pod.InitContainers[0].Command, " "), "-o "+location+" ./cmd/greenlight-argo-rollouts")
	require.Len(t, pod.Containers, 1)
	assert.Equal(t, "argo-rollouts", pod.Containers[0].Name, "the container of Argo's install manifest")
	require.Len(t, pod.Containers[0].VolumeMounts, 1)
	assert.Equal(t, filepath.Dir(location), pod.Containers[0].VolumeMounts[0].MountPath)
	require.Len(t, pod.Containers[0].Env, 1)
	assert.Equal(t, provider.DefaultTokenEnv, pod.Containers[0].Env[0].Name)

	for _, name := range []string{"greenlight-plugin-pre-promotion", "greenlight-plugin-post-promotion"} {
		tmpl := d.Templates[name]
		require.NotNil(t, tmpl, name)
		require.Len(t, tmpl.Spec.Metrics, 1)
		assert.Contains(t, string(tmpl.Spec.Metrics[0].Provider.Plugin[provider.Name]), `"tokenEnv":"`+provider.DefaultTokenEnv+`"`)
	}
}

// TestPluginPassesArgoValidation: the Rollout with the plugin's templates passes Argo's checks.
func TestPluginPassesArgoValidation(t *testing.T) {
	assert.Empty(t, argoValidation(t, pluginDeployment(t)))
}

// TestPluginAnalysisRun runs the plugin's AnalysisRuns in Argo's own AnalysisRun controller,
// which reaches the plugin binary through Argo's plugin client (go-plugin, net/rpc, the
// metricprovider handshake), against a real greenlight serve.
func TestPluginAnalysisRun(t *testing.T) {
	d := pluginDeployment(t)
	installPlugin(t, d)
	daemon := daemontest.Start(t, greenlightBin, specsDir)
	healthy, failing := daemontest.App(t, true), daemontest.App(t, false)
	args := func(daemonURL, spec, stable, preview string) map[string]string {
		return map[string]string{"greenlight-url": daemonURL, "spec": spec, "stable-url": stable, "preview-url": preview}
	}
	measurement := func(t *testing.T, run *v1alpha1.AnalysisRun) v1alpha1.Measurement {
		t.Helper()
		m := analysisutil.LastMeasurement(run, "greenlight")
		require.NotNil(t, m)
		return *m
	}
	// resumeUntilComplete waits for greenlight's verdict (a long-poll), then lets Argo's clock
	// reach the measurement's ResumeAt and reconciles, until the run is complete.
	resumeUntilComplete := func(t *testing.T, c *argotest.Controller, d *daemontest.Daemon, run *v1alpha1.AnalysisRun) *v1alpha1.AnalysisRun {
		t.Helper()
		for range 5 {
			if run.Status.Phase.Completed() {
				return run
			}
			if id := measurement(t, run).Metadata[provider.MetadataAnalysis]; id != "" {
				d.WaitDecided(t, id)
			}
			c.Advance(pollInterval)
			run = c.Reconcile(run.Namespace, run.Name)
		}
		t.Fatalf("the run is still %s after greenlight decided", run.Status.Phase)
		return nil
	}

	t.Run("promote is Successful", func(t *testing.T) {
		c := argotest.Start(t)
		run := argoRun(t, d, "pre", newHash(), args(daemon.URL, "checkout", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		m := measurement(t, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseRunning, m.Phase, m.Message)
		assert.Equal(t, "running", m.Value)
		require.NotNil(t, m.ResumeAt, "Argo comes back at ResumeAt")
		assert.Nil(t, m.FinishedAt)
		id := m.Metadata[provider.MetadataAnalysis]
		require.NotEmpty(t, id)
		assert.Equal(t, daemon.URL+"/api/v1/analyses/"+id, m.Metadata[provider.MetadataURL])
		r := metric(t, run, "greenlight")
		assert.Equal(t, daemon.URL+"/api/v1/analyses/"+id, r.Metadata[provider.MetadataURL], "GetMetadata links the analysis")
		assert.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase)

		a := daemon.Get(t, id)
		assert.Equal(t, "argo-rollouts/shop/checkout/"+podHash(t, run)+"/pre-promotion", a.Key)
		assert.Equal(t, map[string]string{"stable": healthy, "preview": healthy}, a.Environments)

		c.Advance(pollInterval)
		run = c.Reconcile(namespace, run.Name) // resumed: most likely still running
		run = resumeUntilComplete(t, c, daemon, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "promote", measurement(t, run).Value)
		assert.Len(t, metric(t, run, "greenlight").Measurements, 1, "one measurement for the whole analysis")
	})

	t.Run("rollback is Failed", func(t *testing.T) {
		c := argotest.Start(t)
		run := argoRun(t, d, "pre", newHash(), args(daemon.URL, "checkout", healthy, failing))
		c.Create(run)
		run = resumeUntilComplete(t, c, daemon, c.Reconcile(namespace, run.Name))
		assert.Equal(t, v1alpha1.AnalysisPhaseFailed, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "rollback", measurement(t, run).Value)
		assert.Contains(t, measurement(t, run).Message, "rollback: ")
	})

	t.Run("inconclusive pauses", func(t *testing.T) {
		c := argotest.Start(t)
		run := argoRun(t, d, "post", newHash(), args(daemon.URL, "slow", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		id := measurement(t, run).Metadata[provider.MetadataAnalysis]
		assert.Equal(t, "post-promotion", daemon.Get(t, id).Labels["stage"])
		daemon.Abort(t, id, "wrong image")
		run = resumeUntilComplete(t, c, daemon, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseInconclusive, run.Status.Phase, "Argo pauses the rollout for a person: %s", run.Status.Message)
	})

	t.Run("an unreachable daemon is an Error", func(t *testing.T) {
		c := argotest.Start(t)
		run := argoRun(t, d, "pre", newHash(), args(daemontest.ClosedURL(t), "checkout", healthy, healthy))
		c.Create(run)
		limit := d.Templates["greenlight-plugin-pre-promotion"].Spec.Metrics[0].ConsecutiveErrorLimit.IntValue()
		for i := 1; i <= limit; i++ {
			run = c.Reconcile(namespace, run.Name)
			require.Equal(t, v1alpha1.AnalysisPhaseError, measurement(t, run).Phase)
			require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase, "after %d errors in a row: %s", i, run.Status.Message)
			c.Advance(errorRetry)
		}
		run = c.Reconcile(namespace, run.Name)
		assert.Equal(t, v1alpha1.AnalysisPhaseError, run.Status.Phase, "one more error than the limit: Argo aborts the rollout")
		assert.Contains(t, run.Status.Message, "connection refused")
	})

	t.Run("a daemon restart within the error limit", func(t *testing.T) {
		own := daemontest.Start(t, greenlightBin, specsDir)
		c := argotest.Start(t)
		run := argoRun(t, d, "pre", newHash(), args(own.URL, "checkout", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		id := measurement(t, run).Metadata[provider.MetadataAnalysis]
		own.Stop(t)
		c.Advance(pollInterval)
		run = c.Reconcile(namespace, run.Name)
		require.Equal(t, v1alpha1.AnalysisPhaseError, measurement(t, run).Phase, "the resumed measurement errs")
		own.Restart(t)
		c.Advance(errorRetry)
		run = c.Reconcile(namespace, run.Name) // a new measurement: the start finds the analysis by its key
		assert.Equal(t, id, measurement(t, run).Metadata[provider.MetadataAnalysis])
		run = resumeUntilComplete(t, c, own, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, run.Status.Message)
	})

	t.Run("a terminated run aborts the analysis", func(t *testing.T) {
		c := argotest.Start(t)
		run := argoRun(t, d, "pre", newHash(), args(daemon.URL, "slow", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		id := measurement(t, run).Metadata[provider.MetadataAnalysis]
		c.Advance(pollInterval) // Argo terminates a measurement once its ResumeAt has come
		run = c.Terminate(namespace, run.Name)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, "Argo's rule for a terminated run: %s", run.Status.Message)
		a := daemon.Get(t, id)
		assert.Equal(t, "interrupted", a.State, "nothing decided, nothing left running")
		require.Len(t, a.Audit, 1)
		assert.Equal(t, "abort", a.Audit[0].Action)
		assert.Equal(t, "Argo Rollouts terminated AnalysisRun shop/"+run.Name, a.Audit[0].Why)
		assert.Equal(t, "argo-rollouts", a.Audit[0].By)
	})
}
