package awshook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy/codedeploytest"
)

const token = "write-token-0123456789"

// request is a request the fake daemon got.
type request struct {
	Method, Path, Authorization string
	Body                        map[string]any
}

// fakeDaemon answers the hook's requests with what answer says; the real daemon is in the
// end-to-end tests of cmd/greenlight-aws-hook.
type fakeDaemon struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	answer   func(r request) (int, any)
}

func newFakeDaemon(t *testing.T, answer func(r request) (int, any)) *fakeDaemon {
	d := &fakeDaemon{answer: answer}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization")}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &req.Body))
		}
		d.mu.Lock()
		d.requests = append(d.requests, req)
		d.mu.Unlock()
		status, body := d.answer(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *fakeDaemon) got() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.requests...)
}

// analysisAnswer is an analysis as the daemon answers it.
func analysisAnswer(id, verdict string) map[string]any {
	state := verdict
	return map[string]any{"id": id, "spec": "checkout", "state": state, "verdict": verdict, "reason": "reason of " + verdict}
}

func config(url string) awshook.Config {
	return awshook.Config{
		URL: url, Token: token, Spec: "checkout",
		Environments: map[string]string{"blue": "https://prod.checkout.internal", "green": "https://test.checkout.internal:8443"},
		Labels:       map[string]string{"team": "shop"},
		Timeout:      awshook.DefaultTimeout, CallbackDelay: awshook.DefaultCallbackDelay, MaxErrors: awshook.DefaultMaxErrors,
	}
}

// reporter is a CodeDeploy client aimed at a fake CodeDeploy endpoint.
func reporter(t *testing.T, fake *codedeploytest.Server) *codedeploy.Notifier {
	t.Helper()
	n, err := codedeploy.New(codedeploy.Config{Name: "lambda", Endpoint: fakeURL(fake)}, codedeploy.Options{AWS: codedeploytest.AWSConfig()})
	require.NoError(t, err)
	return n
}

func fakeURL(fake *codedeploytest.Server) secret.Secret { return secret.Secret(fake.URL) }

func ecsStage(s string) ecstypes.DeploymentLifecycleHookStage {
	return ecstypes.DeploymentLifecycleHookStage(s)
}
