package argorollouts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/validation"
)

// deployment is what deploy/argo-rollouts holds, decoded strictly into Argo's and Kubernetes'
// own types: a field Argo does not know (a typo in consecutiveSuccessLimit) fails the decoding.
type deployment struct {
	Rollout   *v1alpha1.Rollout
	Templates map[string]*v1alpha1.AnalysisTemplate
	Services  map[string]*corev1.Service
	Secrets   map[string]*corev1.Secret
	Config    *corev1.ConfigMap // argo-rollouts-config
}

func loadDeployment(t *testing.T, files ...string) deployment {
	t.Helper()
	d := deployment{Templates: map[string]*v1alpha1.AnalysisTemplate{}, Services: map[string]*corev1.Service{}, Secrets: map[string]*corev1.Secret{}}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "argo-rollouts", f))
		require.NoError(t, err)
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			require.NoError(t, yaml.Unmarshal(doc, &meta), "%s, document %d", f, i+1)
			var obj any
			switch meta.Kind {
			case "Rollout":
				d.Rollout = &v1alpha1.Rollout{}
				obj = d.Rollout
			case "AnalysisTemplate":
				tmpl := &v1alpha1.AnalysisTemplate{}
				obj = tmpl
				defer func() { d.Templates[tmpl.Name] = tmpl }()
			case "Service":
				svc := &corev1.Service{}
				obj = svc
				defer func() { d.Services[svc.Name] = svc }()
			case "Secret":
				s := &corev1.Secret{}
				obj = s
				defer func() { d.Secrets[s.Name] = s }()
			case "ConfigMap":
				d.Config = &corev1.ConfigMap{}
				obj = d.Config
			default:
				t.Fatalf("%s, document %d: unexpected kind %q", f, i+1, meta.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict(doc, obj), "%s, document %d", f, i+1)
		}
	}
	return d
}

// TestDeployPassesArgoValidation: the Rollout, its Services and both AnalysisTemplates pass the
// checks Argo's controller makes before it runs a Rollout — among them that a pre- or
// post-promotion metric has a count (one that runs indefinitely is refused).
func TestDeployPassesArgoValidation(t *testing.T) {
	d := loadDeployment(t, "rollout.yaml", "analysis-templates.yaml", "secret.yaml")
	assert.Empty(t, argoValidation(t, d))
	bg := d.Rollout.Spec.Strategy.BlueGreen
	assert.Nil(t, bg.ScaleDownDelaySeconds, "a scale-down delay would cancel the post-promotion analysis, which then counts as successful")
	stable := d.Services["checkout-stable"]
	require.NotNil(t, stable)
	for k, v := range bg.ActiveMetadata.Labels {
		assert.Equal(t, v, stable.Spec.Selector[k], "checkout-stable selects the stable ReplicaSet's label")
	}
	for k, v := range bg.PreviewMetadata.Labels {
		assert.NotEqual(t, v, stable.Spec.Selector[k], "and not the preview's")
	}
	assert.Contains(t, d.Secrets, "greenlight-api", "the Secret the templates read the token from")
}

// argoValidation is what Argo's controller finds wrong with the Rollout, the templates its
// blue-green analyses name and its Services.
func argoValidation(t *testing.T, d deployment) field.ErrorList {
	t.Helper()
	require.NotNil(t, d.Rollout)
	bg := d.Rollout.Spec.Strategy.BlueGreen
	require.NotNil(t, bg)
	refs := validation.ReferencedResources{}
	for _, a := range []struct {
		analysis *v1alpha1.RolloutAnalysis
		kind     validation.AnalysisTemplateType
	}{{bg.PrePromotionAnalysis, validation.PrePromotionAnalysis}, {bg.PostPromotionAnalysis, validation.PostPromotionAnalysis}} {
		require.NotNil(t, a.analysis, "the Rollout has a %s", a.kind)
		var templates []*v1alpha1.AnalysisTemplate
		for _, ref := range a.analysis.Templates {
			tmpl := d.Templates[ref.TemplateName]
			require.NotNil(t, tmpl, "template %s is in deploy/argo-rollouts", ref.TemplateName)
			templates = append(templates, tmpl)
		}
		refs.AnalysisTemplatesWithType = append(refs.AnalysisTemplatesWithType,
			validation.AnalysisTemplatesWithType{AnalysisTemplates: templates, TemplateType: a.kind, Args: a.analysis.Args})
	}
	for name, kind := range map[string]validation.ServiceType{bg.ActiveService: validation.ActiveService, bg.PreviewService: validation.PreviewService} {
		require.NotNil(t, d.Services[name], "Service %s is in rollout.yaml", name)
		refs.ServiceWithType = append(refs.ServiceWithType, validation.ServiceWithType{Service: d.Services[name], Type: kind})
	}
	return append(validation.ValidateRollout(d.Rollout), validation.ValidateRolloutReferencedResources(d.Rollout, refs)...)
}

// TestTemplatesDifferOnlyInStage: the post-promotion template is the pre-promotion one with
// another stage in its key and labels, and the watch: its starts ask for the watch alone
// ("mode": "watch", for the template's watch argument), and its verdict is polled long enough
// for that watch to end — so that the two cannot drift apart otherwise.
func TestTemplatesDifferOnlyInStage(t *testing.T) {
	d := loadDeployment(t, "analysis-templates.yaml")
	pre, post := d.Templates["greenlight-pre-promotion"], d.Templates["greenlight-post-promotion"]
	require.NotNil(t, pre)
	require.NotNil(t, post)
	preJSON, err := json.Marshal(pre.Spec)
	require.NoError(t, err)
	post = post.DeepCopy()

	var watch time.Duration
	args := post.Spec.Args[:0]
	for _, a := range post.Spec.Args {
		if a.Name == "watch" {
			require.NotNil(t, a.Value, "the watch has a default")
			watch, err = time.ParseDuration(*a.Value)
			require.NoError(t, err)
			continue
		}
		args = append(args, a)
	}
	post.Spec.Args = args
	require.Positive(t, watch, "the post-promotion template has a watch argument")
	for i := range post.Spec.Metrics {
		m := &post.Spec.Metrics[i]
		var body map[string]any
		require.NoError(t, json.Unmarshal(m.Provider.Web.JSONBody, &body))
		assert.Equal(t, "watch", body["mode"], "metric %s starts the watch alone", m.Name)
		assert.Equal(t, "{{args.watch}}", body["watch"], "metric %s", m.Name)
		delete(body, "mode")
		delete(body, "watch")
		m.Provider.Web.JSONBody, err = json.Marshal(body)
		require.NoError(t, err)
	}
	v := &post.Spec.Metrics[1]
	interval, err := time.ParseDuration(string(v.Interval))
	require.NoError(t, err)
	count := v.Count.IntValue()
	assert.Greater(t, time.Duration(count)*interval, watch+10*time.Minute, "Argo waits out the watch, with room for the analysis's start")
	assert.Equal(t, count-1, v.InconclusiveLimit.IntValue(), "running answers alone never succeed")
	v.Interval, v.Count, v.InconclusiveLimit = pre.Spec.Metrics[1].Interval, pre.Spec.Metrics[1].Count, pre.Spec.Metrics[1].InconclusiveLimit

	postJSON, err := json.Marshal(post.Spec)
	require.NoError(t, err)
	assert.Contains(t, string(postJSON), "post-promotion")
	assert.JSONEq(t, string(preJSON), strings.ReplaceAll(string(postJSON), "post-promotion", "pre-promotion"))
}

// TestDeployAnalysisIsValid: the greenlight specs of the example load (greenlight validate).
func TestDeployAnalysisIsValid(t *testing.T) {
	cmd := exec.CommandContext(context.Background(), greenlightBin, "validate", filepath.Join(repoRoot, "deploy", "argo-rollouts", "greenlight-analysis.yaml"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "1 analysis: valid")
}

// replicaSet is a ReplicaSet as Argo's rollout controller reads its pod-template hash.
func replicaSet(hash string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "checkout-" + hash, Labels: map[string]string{v1alpha1.DefaultRolloutUniqueLabelKey: hash}}}
}
