package kubernetes_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/greenlight/greenlight/integrations/kubernetes/image"
)

// TestManifests decodes deploy/kubernetes strictly and checks that its objects fit together,
// the image and greenlight serve: names and selectors that find each other, probes on the
// daemon's health endpoints, a non-root container that cannot write its root filesystem.
func TestManifests(t *testing.T) {
	m := load(t, manifestsDir)
	ns := one[*corev1.Namespace](t, m)
	d := one[*appsv1.Deployment](t, m)
	cm := one[*corev1.ConfigMap](t, m)
	secret := one[*corev1.Secret](t, m)
	pvc := one[*corev1.PersistentVolumeClaim](t, m)
	svc := one[*corev1.Service](t, m)
	sa := one[*corev1.ServiceAccount](t, m)
	pdb := one[*policyv1.PodDisruptionBudget](t, m)
	np := one[*networkingv1.NetworkPolicy](t, m)
	sm := one[*ServiceMonitor](t, m)
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)

	t.Run("namespace", func(t *testing.T) {
		for name, obj := range m.files {
			meta, ok := obj.(metav1.Object)
			if !ok || obj == ns {
				continue
			}
			assert.Equal(t, ns.Name, meta.GetNamespace(), name)
			assert.Equal(t, "greenlight", meta.GetLabels()["app.kubernetes.io/name"], name)
		}
	})

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
		assert.Contains(t, mounts, v.Name, "volume %s is mounted", v.Name)
	}

	t.Run("deployment", func(t *testing.T) {
		require.NotNil(t, d.Spec.Replicas)
		assert.Equal(t, int32(1), *d.Spec.Replicas, "SQLite: one replica")
		assert.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type, "never two daemons on one store")
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		require.NoError(t, err)
		assert.True(t, sel.Matches(podLabels))
		assert.Equal(t, sa.Name, pod.Spec.ServiceAccountName)
		require.NotNil(t, pod.Spec.AutomountServiceAccountToken)
		assert.False(t, *pod.Spec.AutomountServiceAccountToken)

		repo, tag, ok := strings.Cut(c.Image, ":")
		assert.True(t, ok, "the image has a tag")
		assert.Equal(t, image.Repository, repo)
		assert.NotEqual(t, "latest", tag)
		assert.Empty(t, c.Command, "the image's entrypoint runs")
		assert.Empty(t, c.Args, "the image's command runs: serve on the mounted specs and data")

		require.Len(t, c.Ports, 1)
		assert.Equal(t, int32(image.Port), c.Ports[0].ContainerPort)
		port := c.Ports[0]
		for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe, "/healthz ": c.StartupProbe} {
			require.NotNil(t, p, name)
			require.NotNil(t, p.HTTPGet, name)
			assert.Equal(t, strings.TrimSpace(name), p.HTTPGet.Path)
			assert.True(t, p.HTTPGet.Port == intstr.FromString(port.Name) || p.HTTPGet.Port == intstr.FromInt32(port.ContainerPort), "%s probes the container's port, not %v", name, p.HTTPGet.Port)
			assert.Contains(t, []corev1.URIScheme{"", corev1.URISchemeHTTP}, p.HTTPGet.Scheme)
		}

		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			assert.Contains(t, c.Resources.Requests, r)
		}
		assert.Contains(t, c.Resources.Limits, corev1.ResourceMemory)
	})

	t.Run("security", func(t *testing.T) {
		psc := pod.Spec.SecurityContext
		require.NotNil(t, psc)
		require.NotNil(t, psc.RunAsNonRoot)
		assert.True(t, *psc.RunAsNonRoot)
		require.NotNil(t, psc.RunAsUser)
		assert.Equal(t, int64(image.UID), *psc.RunAsUser, "the image's user")
		require.NotNil(t, psc.FSGroup)
		assert.Equal(t, int64(image.UID), *psc.FSGroup, "the user can write the data volume")
		require.NotNil(t, psc.SeccompProfile)
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)
		sc := c.SecurityContext
		require.NotNil(t, sc)
		for name, b := range map[string]*bool{"runAsNonRoot": sc.RunAsNonRoot, "readOnlyRootFilesystem": sc.ReadOnlyRootFilesystem} {
			require.NotNil(t, b, name)
			assert.True(t, *b, name)
		}
		require.NotNil(t, sc.AllowPrivilegeEscalation)
		assert.False(t, *sc.AllowPrivilegeEscalation)
		require.NotNil(t, sc.Capabilities)
		assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
		assert.Empty(t, sc.Capabilities.Add)
		assert.Nil(t, sc.Privileged)
		assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	})

	t.Run("volumes", func(t *testing.T) {
		specs := volumes["specs"]
		require.NotNil(t, specs.ConfigMap)
		assert.Equal(t, cm.Name, specs.ConfigMap.Name)
		assert.Equal(t, image.SpecsDir, mounts["specs"].MountPath, "where the image's command reads the specs")
		assert.True(t, mounts["specs"].ReadOnly)

		data := volumes["data"]
		require.NotNil(t, data.PersistentVolumeClaim)
		assert.Equal(t, pvc.Name, data.PersistentVolumeClaim.ClaimName)
		assert.Equal(t, image.DataDir, mounts["data"].MountPath, "where the image's command keeps the store")
		assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)

		tmp := volumes["tmp"]
		require.NotNil(t, tmp.EmptyDir, "a writable /tmp on a read-only root")
		assert.Equal(t, "/tmp", mounts["tmp"].MountPath)

		tokens := volumes["tokens"]
		require.NotNil(t, tokens.Secret)
		assert.Equal(t, secret.Name, tokens.Secret.SecretName)
		assert.True(t, mounts["tokens"].ReadOnly)
	})

	t.Run("environment", func(t *testing.T) {
		doc, err := os.ReadFile(repoRoot + "/docs/serve.md")
		require.NoError(t, err)
		documented := map[string]bool{}
		for _, name := range regexp.MustCompile("`(GREENLIGHT_[A-Z_]+)`").FindAllStringSubmatch(string(doc), -1) {
			documented[name[1]] = true
		}
		env := map[string]string{}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "GREENLIGHT_") {
				assert.True(t, documented[e.Name], "%s is a setting of greenlight serve (docs/serve.md)", e.Name)
			}
			env[e.Name] = e.Value
		}
		secretDir := mounts["tokens"].MountPath + "/"
		for _, name := range []string{"GREENLIGHT_TOKENS_FILE", "GREENLIGHT_TRACES_TOKEN_FILE"} {
			path := env[name]
			require.True(t, strings.HasPrefix(path, secretDir), "%s=%s is in the Secret's folder %s", name, path, secretDir)
			assert.Contains(t, secret.StringData, strings.TrimPrefix(path, secretDir), "%s names a key of the Secret", name)
		}
	})

	t.Run("service", func(t *testing.T) {
		assert.Equal(t, labels.Set(svc.Spec.Selector).AsSelector().Matches(podLabels), true, "the Service selects the pod")
		require.Len(t, svc.Spec.Ports, 1)
		assert.Equal(t, intstr.FromString(c.Ports[0].Name), svc.Spec.Ports[0].TargetPort)
		assert.Equal(t, int32(image.Port), svc.Spec.Ports[0].Port)
	})

	t.Run("disruption budget", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		require.NoError(t, err)
		assert.True(t, sel.Matches(podLabels))
		assert.Nil(t, pdb.Spec.MinAvailable, "minAvailable with one replica would block every drain")
		require.NotNil(t, pdb.Spec.MaxUnavailable)
		assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MaxUnavailable)
	})

	t.Run("network policy", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		require.NoError(t, err)
		assert.True(t, sel.Matches(podLabels))
		assert.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes)
		require.Len(t, np.Spec.Ingress, 1)
		for _, p := range np.Spec.Ingress[0].Ports {
			require.NotNil(t, p.Port)
			assert.Equal(t, intstr.FromString(c.Ports[0].Name), *p.Port)
		}
		var callers []string
		for _, peer := range np.Spec.Ingress[0].From {
			require.NotNil(t, peer.NamespaceSelector, "callers are named by namespace")
			assert.Nil(t, peer.IPBlock)
			for _, e := range peer.NamespaceSelector.MatchExpressions {
				callers = append(callers, e.Values...)
			}
		}
		assert.ElementsMatch(t, []string{"argo-rollouts", "monitoring"}, callers)
		assert.Equal(t, []networkingv1.NetworkPolicyEgressRule{{}}, np.Spec.Egress, "egress open: it probes the apps")
	})

	t.Run("service monitor", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		require.NoError(t, err)
		assert.True(t, sel.Matches(labels.Set(svc.Labels)))
		assert.Equal(t, []string{ns.Name}, sm.Spec.NamespaceSelector.MatchNames)
		require.Len(t, sm.Spec.Endpoints, 1)
		ep := sm.Spec.Endpoints[0]
		assert.Equal(t, svc.Spec.Ports[0].Name, ep.Port)
		assert.Equal(t, "/metrics", ep.Path)
		require.NotNil(t, ep.Authorization, "/metrics needs a read token")
		assert.Equal(t, "Bearer", ep.Authorization.Type)
		require.NotNil(t, ep.Authorization.Credentials)
		assert.Equal(t, secret.Name, ep.Authorization.Credentials.Name)
		token := secret.StringData[ep.Authorization.Credentials.Key]
		require.NotEmpty(t, token)
		assert.Regexp(t, `(?m)^\s*\S+\s+read\s+`+regexp.QuoteMeta(token)+`\s*$`, secret.StringData["tokens"], "the scrape token is a read token of the tokens file")
	})

	t.Run("example secret", func(t *testing.T) {
		raw, err := os.ReadFile(manifestsDir + "/secret.yaml")
		require.NoError(t, err)
		assert.Contains(t, string(raw), "EXAMPLE ONLY")
		for key, v := range secret.StringData {
			if key != "tokens" {
				assert.True(t, strings.HasPrefix(v, "EXAMPLE-"), "%s is marked as an example", key)
			}
		}
	})
}
