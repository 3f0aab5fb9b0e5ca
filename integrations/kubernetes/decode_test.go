package kubernetes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ServiceMonitor is the part of the Prometheus Operator's monitoring.coreos.com/v1 type the
// manifests use; its Go module would bring the operator's whole tree. A field it does not
// declare is an error, as an unknown field of any other manifest is.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			Authorization *struct {
				Type        string                    `json:"type"`
				Credentials *corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// Kustomization is the part of kustomize.config.k8s.io/v1beta1 the folder's kustomization uses.
type Kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string `json:"resources"`
}

// kinds maps each apiVersion and kind the manifests may hold to its Go type.
var kinds = map[string]func() any{
	"v1/Namespace":                                  func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                             func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim":                      func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor":       func() any { return &ServiceMonitor{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &Kustomization{} },
}

// decode reads one manifest strictly: YAML with no duplicate keys, an apiVersion and kind the
// table knows, and no field the Go type does not have (names matched case sensitively).
func decode(file string, data []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: unknown apiVersion %q and kind %q", file, tm.APIVersion, tm.Kind)
	}
	// The API server's own decoder: unlike encoding/json it matches field names case
	// sensitively, so targetport is as unknown as tragetPort.
	obj := newObj()
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", file, tm.Kind, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%s: %s: %w", file, tm.Kind, errors.Join(strict...))
	}
	return obj, nil
}

// manifests is deploy/kubernetes decoded, one object a file.
type manifests struct {
	files map[string]any
}

func load(t *testing.T, dir string) manifests {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	m := manifests{files: map[string]any{}}
	for _, e := range entries {
		require.True(t, strings.HasSuffix(e.Name(), ".yaml"), "%s: only .yaml files", e.Name())
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NotContains(t, string(data), "\n---", "%s: one object a file", e.Name())
		obj, err := decode(e.Name(), data)
		require.NoError(t, err)
		m.files[e.Name()] = obj
	}
	return m
}

// one returns the only object of type T.
func one[T any](t *testing.T, m manifests) T {
	t.Helper()
	var found []T
	for _, o := range m.files {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	require.Len(t, found, 1, "%T", *new(T))
	return found[0]
}

// TestDecodeRejectsTypos: the strict decoding the manifests' test relies on fails a misspelt
// field, a field at the wrong level, a duplicate key and an unknown kind.
func TestDecodeRejectsTypos(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"misspelt field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 1}\n", `x.yaml: Deployment: unknown field "spec.replica"`},
		{"case typo", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, targetport: http}]}\n", `x.yaml: Service: unknown field "spec.ports[0].targetport"`},
		{"wrong level", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, data: {}}\n", `x.yaml: ConfigMap: unknown field "metadata.data"`},
		{"duplicate key", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {a: b}\nstringData: {c: d}\n", `key "stringData" already set`},
		{"unknown kind", "apiVersion: v1\nkind: Deployment\nmetadata: {name: a}\n", `unknown apiVersion "v1" and kind "Deployment"`},
		{"service monitor", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {endpoints: [{port: http, bearerTokenFile: /x}]}\n", `x.yaml: ServiceMonitor: unknown field "spec.endpoints[0].bearerTokenFile"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode("x.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestKustomizationListsEveryManifest: `kubectl apply -k` applies every file of the folder.
func TestKustomizationListsEveryManifest(t *testing.T) {
	m := load(t, manifestsDir)
	k := one[*Kustomization](t, m)
	var files []string
	for f := range m.files {
		if f != "kustomization.yaml" {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	listed := append([]string(nil), k.Resources...)
	sort.Strings(listed)
	assert.Equal(t, files, listed)
}
