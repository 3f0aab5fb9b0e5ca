// Package argotest runs Argo Rollouts' own AnalysisRun controller (the analysis package of
// github.com/argoproj/argo-rollouts) against fake Kubernetes clients, so that a test sees what
// Argo does with the measurements greenlight's answers become: the limits, the phases, the
// run's phase. The test decides when the controller reconciles and what time it is, so no
// test waits for Argo's intervals to pass.
package argotest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/argoproj/argo-rollouts/analysis"
	"github.com/argoproj/argo-rollouts/controller/metrics"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	argofake "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned/fake"
	informers "github.com/argoproj/argo-rollouts/pkg/client/informers/externalversions"
	listers "github.com/argoproj/argo-rollouts/pkg/client/listers/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/record"
	timeutil "github.com/argoproj/argo-rollouts/utils/time"
)

// Controller is Argo's AnalysisRun controller on fake clients. Its clock runs with the real one
// plus an offset the test moves forward (Advance), so that measurements fall due at once while
// the times a provider computes from the real clock (a plugin's ResumeAt) stay comparable.
type Controller struct {
	t      testing.TB
	Kube   *k8sfake.Clientset
	Argo   *argofake.Clientset
	lister listers.AnalysisRunLister
	queue  *manualQueue

	mu      sync.Mutex
	offset  time.Duration
	changed chan struct{} // closed and replaced whenever the informer sees a change
}

// Start runs the controller; kubeObjects (Secrets, ConfigMaps) are in its Kubernetes API. It is
// stopped when the test ends. One at a time: Argo's clock is process-wide.
func Start(t testing.TB, kubeObjects ...runtime.Object) *Controller {
	t.Helper()
	logrus.SetLevel(logrus.ErrorLevel)
	c := &Controller{t: t, Kube: k8sfake.NewSimpleClientset(kubeObjects...), Argo: argofake.NewSimpleClientset(),
		queue: newManualQueue(), changed: make(chan struct{})}
	timeutil.SetNowTimeFunc(c.now)
	t.Cleanup(func() { timeutil.SetNowTimeFunc(time.Now) })

	argoInformers := informers.NewSharedInformerFactory(c.Argo, 0)
	kubeInformers := kubeinformers.NewSharedInformerFactory(c.Kube, 0)
	runs := argoInformers.Argoproj().V1alpha1().AnalysisRuns()
	c.lister = runs.Lister()
	ctrl := analysis.NewController(analysis.ControllerConfig{
		KubeClientSet:        c.Kube,
		ArgoProjClientset:    c.Argo,
		AnalysisRunInformer:  runs,
		JobInformer:          kubeInformers.Batch().V1().Jobs(),
		AnalysisRunWorkQueue: c.queue,
		MetricsServer:        metrics.NewMetricsServer(metrics.ServerConfig{Addr: "127.0.0.1:0", K8SRequestProvider: &metrics.K8sRequestsCountProvider{}}),
		Recorder:             record.NewFakeEventRecorder(),
	})
	if _, err := runs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.wake() },
		UpdateFunc: func(any, any) { c.wake() },
		DeleteFunc: func(any) { c.wake() },
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	argoInformers.Start(ctx.Done())
	kubeInformers.Start(ctx.Done())
	argoInformers.WaitForCacheSync(ctx.Done())
	kubeInformers.WaitForCacheSync(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ctrl.Run(ctx, 1)
	}()
	t.Cleanup(func() {
		cancel()
		c.queue.ShutDown()
		<-done
		argoInformers.Shutdown()
		kubeInformers.Shutdown()
	})
	return c
}

func (c *Controller) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Now is the controller's time.
func (c *Controller) Now() time.Time { return c.now() }

// Advance moves the controller's clock forward.
func (c *Controller) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func (c *Controller) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.changed)
	c.changed = make(chan struct{})
}

// Create stores an AnalysisRun (as Argo's rollout controller does) and returns once the
// controller's cache has it. Nothing is measured before Reconcile.
func (c *Controller) Create(run *v1alpha1.AnalysisRun) {
	c.t.Helper()
	if _, err := c.Argo.ArgoprojV1alpha1().AnalysisRuns(run.Namespace).Create(context.Background(), run, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.synced(run.Namespace, run.Name)
}

// Reconcile has the controller reconcile the run once — take the measurements that are due,
// assess the metrics and the run — and returns the run as stored afterwards.
func (c *Controller) Reconcile(namespace, name string) *v1alpha1.AnalysisRun {
	c.t.Helper()
	c.synced(namespace, name)
	c.queue.process(namespace + "/" + name)
	return c.synced(namespace, name)
}

// Terminate asks the controller to stop the run, as Argo's rollout controller does when it no
// longer needs it (spec.terminate), and reconciles it.
func (c *Controller) Terminate(namespace, name string) *v1alpha1.AnalysisRun {
	c.t.Helper()
	run := c.synced(namespace, name).DeepCopy()
	run.Spec.Terminate = true
	if _, err := c.Argo.ArgoprojV1alpha1().AnalysisRuns(namespace).Update(context.Background(), run, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	return c.Reconcile(namespace, name)
}

// synced waits until the controller's cache holds the run as stored, so that the next
// reconcile reads what the last one wrote, and returns it.
func (c *Controller) synced(namespace, name string) *v1alpha1.AnalysisRun {
	c.t.Helper()
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		stored, err := c.Argo.ArgoprojV1alpha1().AnalysisRuns(namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		cached, err := c.lister.AnalysisRuns(namespace).Get(name)
		if err == nil && equality.Semantic.DeepEqual(stored, cached) {
			return stored
		}
		<-changed
	}
}
