package kubernetes_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/greenlight/greenlight/integrations/kubernetes/image"
)

// kubeletVolume lays files out as the kubelet mounts a ConfigMap or Secret: the files in a
// hidden, timestamped folder, ..data linking to it, and each key a link through ..data.
func kubeletVolume(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	version := "..2026_03_01_12_00_00.000000001"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, version), 0o755))
	require.NoError(t, os.Symlink(version, filepath.Join(dir, "..data")))
	for k, v := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, version, k), []byte(v), 0o440))
		require.NoError(t, os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)))
	}
}

// pod is the Deployment's container as this machine can run it: each volume a folder laid
// out as the kubelet would, each container path mapped into those folders.
type pod struct {
	mounts map[string]string // mount path → local folder
	env    []string
}

func newPod(t *testing.T, m manifests) pod {
	t.Helper()
	d := one[*appsv1.Deployment](t, m)
	cm := one[*corev1.ConfigMap](t, m)
	secret := one[*corev1.Secret](t, m)
	c := d.Spec.Template.Spec.Containers[0]
	root := t.TempDir()
	p := pod{mounts: map[string]string{}}
	for _, v := range d.Spec.Template.Spec.Volumes {
		dir := filepath.Join(root, v.Name)
		switch {
		case v.ConfigMap != nil:
			kubeletVolume(t, dir, cm.Data)
		case v.Secret != nil:
			kubeletVolume(t, dir, secret.StringData)
		default:
			require.NoError(t, os.MkdirAll(dir, 0o700))
		}
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				p.mounts[vm.MountPath] = dir
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			require.False(t, q.IsZero(), "%s: the limit it reads is set", e.Name)
			p.env = append(p.env, fmt.Sprintf("%s=%d", e.Name, q.Value()))
		case e.ValueFrom != nil:
			t.Fatalf("%s: no way to run valueFrom here", e.Name)
		default:
			p.env = append(p.env, e.Name+"="+p.path(e.Value))
		}
	}
	return p
}

// path maps a path in the container to the folder that stands for its volume.
func (p pod) path(s string) string {
	for mount, dir := range p.mounts {
		if s == mount || strings.HasPrefix(s, mount+"/") {
			return dir + strings.TrimPrefix(s, mount)
		}
	}
	return s
}

// TestConfigMapSpecsValidate: the example specs are valid as greenlight validate --strict reads
// them from the mounted ConfigMap.
func TestConfigMapSpecsValidate(t *testing.T) {
	p := newPod(t, load(t, manifestsDir))
	cmd := exec.Command(greenlightBin, "validate", "--strict", p.path(image.SpecsDir))
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), ": valid")
}

// TestDeploymentStartsTheDaemon runs the image's command with the Deployment's environment and
// volumes (the ConfigMap, the Secret and the data volume as the kubelet lays them out) and asks
// what the probes and Prometheus ask. It listens beyond loopback, as in a pod, which the daemon
// allows only with API tokens and a traces token.
func TestDeploymentStartsTheDaemon(t *testing.T) {
	m := load(t, manifestsDir)
	p := newPod(t, m)
	var args []string
	for _, a := range image.Cmd {
		args = append(args, p.path(a))
	}
	require.Equal(t, "--listen", args[len(args)-2])
	args[len(args)-1] = "0.0.0.0:0" // a free port, still beyond loopback

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, greenlightBin, args...)
	cmd.Env = p.env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	serving := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if u, ok := strings.CutPrefix(line, "greenlight: serving on "); ok {
				serving <- u
			}
		}
		close(serving)
	}()
	addr, ok := <-serving
	require.True(t, ok, "greenlight serve exited before serving:\n%s", &log)
	u, err := url.Parse(addr)
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	base := "http://127.0.0.1:" + port

	secret := one[*corev1.Secret](t, m)
	sm := one[*ServiceMonitor](t, m)
	metricsToken := secret.StringData[sm.Spec.Endpoints[0].Authorization.Credentials.Key]
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK}, // ready once it prints its address: the analyses resumed
		{sm.Spec.Endpoints[0].Path, metricsToken, http.StatusOK},
		{sm.Spec.Endpoints[0].Path, "", http.StatusUnauthorized},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+tc.path, nil)
		require.NoError(t, err)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, tc.want, resp.StatusCode, "%s with token %t", tc.path, tc.token != "")
	}
	cancel()
	_ = cmd.Wait()
	for range serving {
	}
	assert.Contains(t, log.String(), "greenlight: serving on ")
	_, err = os.Stat(filepath.Join(p.path(image.DataDir), "greenlight.db"))
	assert.NoError(t, err, "the store is on the data volume")
}
