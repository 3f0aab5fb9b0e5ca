package argorollouts_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"

	"github.com/argoproj/argo-rollouts/metricproviders"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"

	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/argotest"
	"github.com/greenlight/greenlight/integrations/argo-rollouts/internal/daemontest"
)

// Argo's intervals, as the templates and Argo's controller set them.
const (
	verdictInterval = 15 * time.Second // greenlight-verdict's interval
	// postVerdictInterval is the post-promotion template's: it waits out a watch of half an hour.
	postVerdictInterval = 30 * time.Second
	errorRetry          = 10 * time.Second // Argo retries a measurement that errored after this
	namespace           = "shop"
)

var hashes atomic.Int64

// newHash is a pod-template hash no other run of the test binary uses: each run is a new
// revision, with its own idempotency key.
func newHash() string { return fmt.Sprintf("7f9c%04d", hashes.Add(1)) }

// argoRun is the AnalysisRun Argo's rollout controller creates for a stage ("pre" or "post") of
// the example Rollout — its arguments resolved by Argo's own code from the Rollout and its
// ReplicaSets, merged into the template's — with the test's addresses in place of the
// cluster's: set gives argument values by name.
func argoRun(t *testing.T, d deployment, stage, hash string, set map[string]string) *v1alpha1.AnalysisRun {
	t.Helper()
	bg := d.Rollout.Spec.Strategy.BlueGreen
	ra := bg.PrePromotionAnalysis
	if stage == "post" {
		ra = bg.PostPromotionAnalysis
	}
	var args []v1alpha1.AnalysisRunArgument
	seen := map[string]bool{}
	for _, a := range ra.Args {
		if v, ok := set[a.Name]; ok {
			a = v1alpha1.AnalysisRunArgument{Name: a.Name, Value: v}
		}
		seen[a.Name] = true
		args = append(args, a)
	}
	for name, v := range set {
		if !seen[name] { // a template argument with a default, such as greenlight-url
			args = append(args, v1alpha1.AnalysisRunArgument{Name: name, Value: v})
		}
	}
	resolved, err := analysisutil.BuildArgumentsForRolloutAnalysisRun(args, replicaSet("5d8b7c9f"), replicaSet(hash), d.Rollout)
	require.NoError(t, err)
	tmpl := d.Templates[ra.Templates[0].TemplateName]
	require.NotNil(t, tmpl, "template %s", ra.Templates[0].TemplateName)
	name := fmt.Sprintf("%s-%s-1-%s", d.Rollout.Name, hash, stage)
	run, err := analysisutil.NewAnalysisRunFromTemplates([]*v1alpha1.AnalysisTemplate{tmpl}, nil, resolved, ra.DryRun, ra.MeasurementRetention,
		analysisutil.PrePromotionLabels(hash, ""), map[string]string{}, name, "", d.Rollout.Namespace)
	require.NoError(t, err)
	return run
}

// tokenSecret is deploy/argo-rollouts/secret.yaml's Secret holding the daemon's token.
func tokenSecret(t *testing.T, token string) *corev1.Secret {
	t.Helper()
	s := loadDeployment(t, "secret.yaml").Secrets["greenlight-api"]
	require.NotNil(t, s)
	s.Data = map[string][]byte{"token": []byte(token)}
	s.StringData = nil
	return s
}

func webArgs(daemonURL, spec, stable, preview string) map[string]string {
	return map[string]string{"greenlight-url": daemonURL, "spec": spec, "stable-url": stable, "preview-url": preview}
}

// metric is a metric's result in the run.
func metric(t *testing.T, run *v1alpha1.AnalysisRun, name string) v1alpha1.MetricResult {
	t.Helper()
	r := analysisutil.GetResult(run, name)
	require.NotNil(t, r, "metric %s has no result", name)
	return *r
}

func lastValue(t *testing.T, run *v1alpha1.AnalysisRun, name string) string {
	t.Helper()
	m := analysisutil.LastMeasurement(run, name)
	require.NotNil(t, m, "metric %s has no measurement", name)
	var v string
	require.NoError(t, json.Unmarshal([]byte(m.Value), &v), "%s: %q", name, m.Value)
	return v
}

// untilComplete reconciles the run each time greenlight-verdict falls due until the run is
// complete, waiting for greenlight's verdict in between (a long-poll).
func untilComplete(t *testing.T, c *argotest.Controller, d *daemontest.Daemon, run *v1alpha1.AnalysisRun) *v1alpha1.AnalysisRun {
	t.Helper()
	for range 5 {
		run = c.Reconcile(run.Namespace, run.Name)
		if run.Status.Phase.Completed() {
			return run
		}
		assert.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase, run.Status.Message)
		d.WaitDecided(t, lastValue(t, run, "greenlight-start"))
		c.Advance(verdictInterval)
	}
	t.Fatalf("the run is still %s after greenlight decided", run.Status.Phase)
	return nil
}

// TestWebProviderAnalysisRun runs the AnalysisRuns of deploy/argo-rollouts in Argo's own
// controller — its web metric provider, its expression evaluation, its limits — against a real
// greenlight serve judging loopback apps: only promote passes.
func TestWebProviderAnalysisRun(t *testing.T) {
	d := loadDeployment(t, "rollout.yaml", "analysis-templates.yaml")
	daemon := daemontest.Start(t, greenlightBin, specsDir)
	healthy, failing := daemontest.App(t, true), daemontest.App(t, false)

	t.Run("promote is Successful", func(t *testing.T) {
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "pre", newHash(), webArgs(daemon.URL, "checkout", healthy, healthy))
		c.Create(run)

		run = c.Reconcile(namespace, run.Name)
		id := lastValue(t, run, "greenlight-start")
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, metric(t, run, "greenlight-start").Phase, "the start measurement keeps the analysis's id")
		assert.Equal(t, "running", lastValue(t, run, "greenlight-verdict"))
		assert.Equal(t, v1alpha1.AnalysisPhaseInconclusive, analysisutil.LastMeasurement(run, "greenlight-verdict").Phase, "a running answer is no success")
		assert.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase)

		a := daemon.Get(t, id)
		assert.Equal(t, "argo-rollouts/shop/checkout/"+podHash(t, run)+"/pre-promotion", a.Key)
		assert.Equal(t, map[string]string{"namespace": "shop", "rollout": "checkout", "pod-template-hash": podHash(t, run), "stage": "pre-promotion"}, a.Labels)
		assert.Equal(t, map[string]string{"stable": healthy, "preview": healthy}, a.Environments)

		require.Equal(t, "promote", daemon.WaitDecided(t, id).Verdict)
		run = untilComplete(t, c, daemon, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "promote", lastValue(t, run, "greenlight-verdict"))
		assert.Equal(t, id, daemon.Get(t, id).ID, "polling started nothing new")
	})

	t.Run("rollback is Failed", func(t *testing.T) {
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "pre", newHash(), webArgs(daemon.URL, "checkout", healthy, failing))
		c.Create(run)
		run = untilComplete(t, c, daemon, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseFailed, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "rollback", lastValue(t, run, "greenlight-verdict"))
	})

	t.Run("inconclusive is Failed", func(t *testing.T) {
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "post", newHash(), webArgs(daemon.URL, "slow", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase)
		id := lastValue(t, run, "greenlight-start")
		assert.Equal(t, "post-promotion", daemon.Get(t, id).Labels["stage"])
		require.Equal(t, "inconclusive", daemon.Abort(t, id, "wrong image").Verdict)
		c.Advance(postVerdictInterval)
		run = c.Reconcile(namespace, run.Name)
		assert.Equal(t, v1alpha1.AnalysisPhaseFailed, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "inconclusive", lastValue(t, run, "greenlight-verdict"))
	})

	t.Run("running answers never succeed", func(t *testing.T) {
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "pre", newHash(), webArgs(daemon.URL, "slow", healthy, healthy))
		c.Create(run)
		tmpl := d.Templates["greenlight-pre-promotion"].Spec.Metrics[1]
		count := tmpl.Count.IntValue()
		require.Positive(t, count)
		for i := 1; i <= count; i++ {
			run = c.Reconcile(namespace, run.Name)
			require.Equal(t, "running", lastValue(t, run, "greenlight-verdict"))
			if i < count {
				require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase, "after %d running answers", i)
			}
			c.Advance(verdictInterval)
		}
		assert.Equal(t, v1alpha1.AnalysisPhaseInconclusive, run.Status.Phase, "the wait is over: Argo pauses the rollout for a person: %s", run.Status.Message)
		r := metric(t, run, "greenlight-verdict")
		assert.Equal(t, int32(count), r.Inconclusive)
		assert.Zero(t, r.Successful)
		assert.Equal(t, "running", daemon.Get(t, lastValue(t, run, "greenlight-start")).State, "greenlight has decided nothing")
	})

	t.Run("an unreachable daemon is an Error", func(t *testing.T) {
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "pre", newHash(), webArgs(daemontest.ClosedURL(t), "checkout", healthy, healthy))
		c.Create(run)
		limit := d.Templates["greenlight-pre-promotion"].Spec.Metrics[1].ConsecutiveErrorLimit.IntValue()
		for i := 1; i <= limit; i++ {
			run = c.Reconcile(namespace, run.Name)
			require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase, "after %d errors in a row: %s", i, run.Status.Message)
			require.Equal(t, v1alpha1.AnalysisPhaseError, analysisutil.LastMeasurement(run, "greenlight-verdict").Phase)
			c.Advance(errorRetry)
		}
		run = c.Reconcile(namespace, run.Name)
		assert.Equal(t, v1alpha1.AnalysisPhaseError, run.Status.Phase, "one more error than the limit: Argo aborts the rollout")
		assert.Contains(t, run.Status.Message, "connection refused")
		assert.Zero(t, metric(t, run, "greenlight-verdict").Successful)
	})

	t.Run("a daemon restart within the error limit", func(t *testing.T) {
		own := daemontest.Start(t, greenlightBin, specsDir)
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "pre", newHash(), webArgs(own.URL, "checkout", healthy, healthy))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		id := lastValue(t, run, "greenlight-start")

		own.Stop(t)
		c.Advance(verdictInterval)
		for range 3 {
			run = c.Reconcile(namespace, run.Name)
			require.Equal(t, v1alpha1.AnalysisPhaseError, analysisutil.LastMeasurement(run, "greenlight-verdict").Phase)
			require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase)
			c.Advance(errorRetry)
		}
		own.Restart(t) // the same address and store: the analysis starts again under its key
		run = untilComplete(t, c, own, run)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, run.Status.Message)
		assert.Equal(t, "promote", lastValue(t, run, "greenlight-verdict"))
		assert.Equal(t, "promote", own.Get(t, id).Verdict, "the same analysis, resumed")
	})

	t.Run("a cancelled run counts as Successful", func(t *testing.T) {
		// Argo's behaviour, the reason rollout.yaml has no scaleDownDelaySeconds: a run cancelled
		// before a verdict (spec.terminate, as a scale-down delay does to a post-promotion
		// analysis) ends Successful whatever greenlight would have said.
		c := argotest.Start(t, tokenSecret(t, daemontest.Token))
		run := argoRun(t, d, "post", newHash(), webArgs(daemon.URL, "slow", healthy, failing))
		c.Create(run)
		run = c.Reconcile(namespace, run.Name)
		require.Equal(t, v1alpha1.AnalysisPhaseRunning, run.Status.Phase)
		run = c.Terminate(namespace, run.Name)
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, run.Status.Phase, run.Status.Message)
	})
}

func argIndex(t *testing.T, run *v1alpha1.AnalysisRun, name string) int {
	t.Helper()
	for i, a := range run.Spec.Args {
		if a.Name == name {
			return i
		}
	}
	t.Fatalf("no argument %s", name)
	return -1
}

func podHash(t *testing.T, run *v1alpha1.AnalysisRun) string {
	t.Helper()
	return *run.Spec.Args[argIndex(t, run, "pod-template-hash")].Value
}

// TestWebProviderMeasurement takes single measurements with Argo's web metric provider, built
// by Argo's provider factory from the template's metric with its arguments resolved by Argo.
func TestWebProviderMeasurement(t *testing.T) {
	d := loadDeployment(t, "rollout.yaml", "analysis-templates.yaml")
	daemon := daemontest.Start(t, greenlightBin, specsDir)
	healthy := daemontest.App(t, true)
	measure := func(t *testing.T, metricName, token string, args map[string]string) v1alpha1.Measurement {
		t.Helper()
		run := argoRun(t, d, "pre", newHash(), args)
		// The token argument as Argo's controller resolves it from the Secret.
		run.Spec.Args[argIndex(t, run, "greenlight-token")] = v1alpha1.Argument{Name: "greenlight-token", Value: &token}
		var m *v1alpha1.Metric
		for _, candidate := range run.Spec.Metrics {
			if candidate.Name == metricName {
				resolved, err := analysisutil.ResolveMetricArgs(candidate, run.Spec.Args)
				require.NoError(t, err)
				m = resolved
			}
		}
		require.NotNil(t, m, "no metric %s", metricName)
		factory := metricproviders.ProviderFactory{KubeClient: k8sfake.NewSimpleClientset()}
		provider, err := factory.NewProvider(*logrus.NewEntry(logrus.StandardLogger()), namespace, *m)
		require.NoError(t, err)
		require.Equal(t, "Web", provider.Type())
		return provider.Run(run, *m)
	}

	t.Run("a running analysis is Inconclusive", func(t *testing.T) {
		m := measure(t, "greenlight-verdict", daemontest.Token, webArgs(daemon.URL, "slow", healthy, healthy))
		assert.Equal(t, v1alpha1.AnalysisPhaseInconclusive, m.Phase, m.Message)
		assert.Equal(t, `"running"`, m.Value)
	})
	t.Run("a token that may not start analyses is an Error", func(t *testing.T) {
		m := measure(t, "greenlight-start", daemontest.ReadToken, webArgs(daemon.URL, "slow", healthy, healthy))
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Equal(t, "received non 2xx response code: 403", m.Message)
	})
	t.Run("an unknown spec is an Error", func(t *testing.T) {
		m := measure(t, "greenlight-verdict", daemontest.Token, webArgs(daemon.URL, "no-such-spec", healthy, healthy))
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Equal(t, "received non 2xx response code: 422", m.Message)
	})
	t.Run("anything but greenlight answering 200 without JSON passes", func(t *testing.T) {
		// Argo's behaviour up to v1.9 (its issue #4535), the reason greenlight always answers
		// JSON and greenlight-url must reach greenlight itself, never a page that answers 200 in
		// its stead (a login proxy, a default backend).
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>Sign in</html>")
		}))
		t.Cleanup(other.Close)
		m := measure(t, "greenlight-verdict", daemontest.Token, webArgs(other.URL, "checkout", healthy, healthy))
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase)
	})
}
