package kubernetes_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The chart is rendered with Go's text/template and the few Helm functions its templates use,
// each written as Helm (sprig) defines it; a template calling any other function fails to parse.
// Helm itself would bring a dependency tree larger than this module's.

// Chart is the part of Chart.yaml (apiVersion v2) the chart uses.
type Chart struct {
	APIVersion  string   `json:"apiVersion"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Version     string   `json:"version"`
	AppVersion  string   `json:"appVersion"`
	Home        string   `json:"home"`
	Sources     []string `json:"sources"`
}

func helmFuncs(tpl **template.Template) template.FuncMap {
	return template.FuncMap{
		"toYaml": func(v any) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"toJson": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"indent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"quote": func(args ...any) string {
			var out []string
			for _, a := range args {
				if a != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(a)))
				}
			}
			return strings.Join(out, " ")
		},
		"default": func(d any, given ...any) any {
			if len(given) == 0 || given[0] == nil || reflect.ValueOf(given[0]).IsZero() {
				return d
			}
			return given[0]
		},
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := (*tpl).ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
	}
}

// render renders the chart in dir as `helm template NAME dir -n NAMESPACE` would, with values
// changed by set, and decodes every object strictly.
func render(t *testing.T, dir, name, namespace string, set func(values map[string]any)) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	require.NoError(t, err)
	j, err := yaml.YAMLToJSONStrict(raw)
	require.NoError(t, err)
	var chart Chart
	dec := json.NewDecoder(strings.NewReader(string(j)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&chart), "Chart.yaml")
	raw, err = os.ReadFile(filepath.Join(dir, "values.yaml"))
	require.NoError(t, err)
	var values map[string]any
	require.NoError(t, yaml.UnmarshalStrict(raw, &values))
	if set != nil {
		set(values)
	}
	data := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": name, "Namespace": namespace, "Service": "Helm"},
		"Chart":   map[string]any{"Name": chart.Name, "Version": chart.Version, "AppVersion": chart.AppVersion},
	}
	var tpl *template.Template
	tpl = template.New("chart").Funcs(helmFuncs(&tpl)).Option("missingkey=error")
	files, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = tpl.New(filepath.Base(f)).Parse(string(b))
		require.NoError(t, err)
	}
	objects := map[string]any{}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "_") {
			continue
		}
		var out strings.Builder
		require.NoError(t, tpl.ExecuteTemplate(&out, base, data), base)
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out.String(), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			obj, err := decode(fmt.Sprintf("%s (document %d)", base, i+1), []byte(doc))
			require.NoError(t, err, "%s rendered:\n%s", base, doc)
			objects[base] = obj
		}
	}
	return objects
}

// TestHelmChartRendersTheManifests: with its defaults, released as greenlight in namespace
// greenlight, the chart renders exactly the objects of deploy/kubernetes (all but the
// Namespace, which `helm install --create-namespace` makes), so everything TestManifests
// checks holds for it too.
func TestHelmChartRendersTheManifests(t *testing.T) {
	chartDir := filepath.Join(repoRoot, "deploy", "helm", "greenlight")
	rendered := render(t, chartDir, "greenlight", "greenlight", nil)
	m := load(t, manifestsDir)
	var want []string
	for name, obj := range m.files {
		switch obj.(type) {
		case *corev1.Namespace, *Kustomization:
			continue
		}
		want = append(want, name)
		got, ok := rendered[name]
		if assert.True(t, ok, "the chart has templates/%s", name) {
			assert.Equal(t, obj, got, name)
		}
	}
	var have []string
	for name := range rendered {
		have = append(have, name)
	}
	assert.ElementsMatch(t, want, have)
}

// TestHelmChartValues: the values that change objects change them where the objects meet.
func TestHelmChartValues(t *testing.T) {
	chartDir := filepath.Join(repoRoot, "deploy", "helm", "greenlight")
	objs := render(t, chartDir, "gl", "delivery", func(v map[string]any) {
		v["image"].(map[string]any)["tag"] = "v9.9.9"
		v["tokens"].(map[string]any)["existingSecret"] = "gl-api-tokens"
		v["serviceMonitor"].(map[string]any)["enabled"] = false
		v["networkPolicy"].(map[string]any)["callerNamespaces"] = []any{"ci"}
		v["persistence"].(map[string]any)["storageClassName"] = "fast"
		v["retention"] = "2160h"
	})
	assert.NotContains(t, objs, "secret.yaml", "an existing Secret is used, none created")
	assert.NotContains(t, objs, "servicemonitor.yaml")
	d := objs["deployment.yaml"].(*appsv1.Deployment)
	assert.Equal(t, "gl", d.Name)
	assert.Equal(t, "delivery", d.Namespace)
	assert.Equal(t, "ghcr.io/greenlight/greenlight:v9.9.9", d.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "gl"}, d.Spec.Selector.MatchLabels)
	assert.Contains(t, d.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "GREENLIGHT_RETENTION", Value: "2160h"})
	for _, v := range d.Spec.Template.Spec.Volumes {
		switch {
		case v.Secret != nil:
			assert.Equal(t, "gl-api-tokens", v.Secret.SecretName)
		case v.ConfigMap != nil:
			assert.Equal(t, objs["configmap.yaml"].(*corev1.ConfigMap).Name, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			pvc := objs["persistentvolumeclaim.yaml"].(*corev1.PersistentVolumeClaim)
			assert.Equal(t, pvc.Name, v.PersistentVolumeClaim.ClaimName)
			require.NotNil(t, pvc.Spec.StorageClassName)
			assert.Equal(t, "fast", *pvc.Spec.StorageClassName)
		}
	}
	np := objs["networkpolicy.yaml"]
	b, err := json.Marshal(np)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"values":["ci"]`)
	pdb := objs["poddisruptionbudget.yaml"].(*policyv1.PodDisruptionBudget)
	assert.Equal(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "gl"}}, pdb.Spec.Selector)
}
