package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
)

// Keys of a measurement's metadata.
const (
	MetadataAnalysis = "analysis" // the analysis's id
	MetadataURL      = "url"      // the analysis in the daemon's API
)

// maxMessage bounds a measurement's message (it is stored in the AnalysisRun's status).
const maxMessage = 1024

// Provider implements Argo's rpc.MetricProviderPlugin.
type Provider struct {
	log    *slog.Logger
	now    func() time.Time
	getenv func(string) string

	transports transports
	// links remembers the analysis a configured key started, for GetMetadata (which sees only
	// the metric). Lost with the process, which costs only the link.
	mu    sync.Mutex
	links map[string]string
}

var _ rpc.MetricProviderPlugin = (*Provider)(nil)

// New returns the plugin; logs go to log.
func New(log *slog.Logger) *Provider {
	return &Provider{log: log, now: time.Now, getenv: os.Getenv, links: map[string]string{}}
}

// InitPlugin is called once when Argo starts the plugin: there is nothing to prepare.
func (p *Provider) InitPlugin() types.RpcError { return types.RpcError{} }

// Type names the provider in Argo's logs.
func (p *Provider) Type() string { return "greenlight" }

// Argo's provider interface passes no context: each call is the root of its requests, bounded
// by the configured timeout.
func (p *Provider) call(c Config) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Duration(c.Timeout))
}

// Run starts the analysis — or finds the one its key already started — and measures its
// verdict: Running until it is decided.
func (p *Provider) Run(run *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	m := v1alpha1.Measurement{StartedAt: p.metaNow()}
	c, cl, err := p.setup(metric)
	if err != nil {
		return p.failed(m, err)
	}
	key := c.key(run, metric)
	ctx, cancel := p.call(c)
	defer cancel()
	a, err := cl.start(ctx, startRequest{Spec: c.Spec, Key: key, Environments: c.Environments,
		Baseline: c.Baseline, Candidate: c.Candidate, Labels: c.Labels, Mode: c.Mode, Watch: c.watch()})
	if err != nil {
		return p.failed(m, p.explain(err, c))
	}
	if c.Key != "" {
		p.mu.Lock()
		p.links[c.Address+"\x00"+c.Key] = cl.base + "/api/v1/analyses/" + a.ID
		p.mu.Unlock()
	}
	p.log.Info("analysis started", "analysis", a.ID, "key", key, "run", run.Namespace+"/"+run.Name, "metric", metric.Name)
	return p.measure(m, c, cl, a)
}

// Resume asks for the verdict of the analysis Run started.
func (p *Provider) Resume(run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	id := m.Metadata[MetadataAnalysis]
	if id == "" {
		return p.failed(m, errors.New("the measurement names no greenlight analysis"))
	}
	c, cl, err := p.setup(metric)
	if err != nil {
		return p.failed(m, err)
	}
	ctx, cancel := p.call(c)
	defer cancel()
	a, err := cl.verdict(ctx, id)
	if err != nil {
		return p.failed(m, p.explain(err, c))
	}
	return p.measure(m, c, cl, a)
}

// Terminate aborts the analysis when Argo no longer needs it (the rollout moved on or was
// aborted). The measurement ends Successful, as Argo's own providers end a terminated one: the
// run's outcome no longer decides anything, and any other phase would make Argo pause or abort
// a rollout that has already moved on.
func (p *Provider) Terminate(run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	m.Phase, m.FinishedAt = v1alpha1.AnalysisPhaseSuccessful, p.metaNow()
	m.ResumeAt = nil
	id := m.Metadata[MetadataAnalysis]
	c, cl, err := p.setup(metric)
	if id == "" || err != nil {
		m.Message = "terminated by Argo Rollouts"
		return m
	}
	ctx, cancel := p.call(c)
	defer cancel()
	reason := fmt.Sprintf("Argo Rollouts terminated AnalysisRun %s/%s", run.Namespace, run.Name)
	a, err := cl.abort(ctx, id, reason)
	var se *statusError
	switch {
	case err == nil:
		m.Value, m.Message = a.Verdict, "terminated by Argo Rollouts: greenlight's analysis "+id+" was aborted"
	case errors.As(err, &se) && se.status == http.StatusConflict:
		m.Message = "terminated by Argo Rollouts after greenlight decided"
	default:
		p.log.Warn("could not abort the analysis", "analysis", id, "error", err)
		m.Message = "terminated by Argo Rollouts; greenlight's analysis " + id + " could not be aborted: " + p.explain(err, c).Error()
	}
	m.Message = excerpt(m.Message, maxMessage)
	return m
}

// GarbageCollect has nothing to collect: the daemon keeps its analyses.
func (p *Provider) GarbageCollect(*v1alpha1.AnalysisRun, v1alpha1.Metric, int) types.RpcError {
	return types.RpcError{}
}

// GetMetadata is shown with the metric's result: the daemon, the spec, and — for a configured
// key — the analysis Run started.
func (p *Provider) GetMetadata(metric v1alpha1.Metric) map[string]string {
	c, err := configOf(metric)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	md := map[string]string{"greenlight": c.Address, "spec": c.Spec}
	if c.Key != "" {
		md["key"] = c.Key
		p.mu.Lock()
		if link, ok := p.links[c.Address+"\x00"+c.Key]; ok {
			md[MetadataURL] = link
		}
		p.mu.Unlock()
	}
	return md
}

// setup reads the metric's configuration and makes a client for its daemon.
func (p *Provider) setup(metric v1alpha1.Metric) (Config, *client, error) {
	c, err := configOf(metric)
	if err != nil {
		return c, nil, err
	}
	tr, err := p.transports.get(c.CAFile)
	if err != nil {
		return c, nil, fmt.Errorf("metric %q: %w", metric.Name, err)
	}
	return c, &client{base: strings.TrimRight(c.Address, "/"), token: p.getenv(c.TokenEnv), http: &http.Client{Transport: tr}}, nil
}

// measure turns the daemon's answer into the measurement: only promote is Successful.
func (p *Provider) measure(m v1alpha1.Measurement, c Config, cl *client, a answer) v1alpha1.Measurement {
	if a.ID == "" {
		return p.failed(m, errors.New("greenlight's answer names no analysis"))
	}
	if m.Metadata == nil {
		m.Metadata = map[string]string{}
	}
	m.Metadata[MetadataAnalysis] = a.ID
	m.Metadata[MetadataURL] = cl.base + "/api/v1/analyses/" + a.ID
	m.Value = a.Verdict
	m.ResumeAt = nil
	switch a.Verdict {
	case "running":
		m.Phase = v1alpha1.AnalysisPhaseRunning
		m.Message = "greenlight is analysing"
		resume := metav1.NewTime(p.now().Add(time.Duration(c.PollInterval)))
		m.ResumeAt = &resume
		return m
	case "promote":
		m.Phase = v1alpha1.AnalysisPhaseSuccessful
	case "rollback":
		m.Phase = v1alpha1.AnalysisPhaseFailed
	case "inconclusive":
		m.Phase = v1alpha1.AnalysisPhaseInconclusive
	default:
		return p.failed(m, fmt.Errorf("greenlight answered an unknown verdict %q", a.Verdict))
	}
	m.Message = excerpt(a.Verdict+": "+a.Reason, maxMessage)
	m.FinishedAt = p.metaNow()
	return m
}

// failed ends the measurement with Error: Argo retries it, and fails the metric once the errors
// in a row exceed consecutiveErrorLimit.
func (p *Provider) failed(m v1alpha1.Measurement, err error) v1alpha1.Measurement {
	m.Phase, m.Message, m.ResumeAt = v1alpha1.AnalysisPhaseError, excerpt(err.Error(), maxMessage), nil
	m.FinishedAt = p.metaNow()
	return m
}

// explain says a timeout as one.
func (p *Provider) explain(err error, c Config) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("greenlight at %s did not answer within %s (timeout)", c.Address, time.Duration(c.Timeout))
	}
	return err
}

func (p *Provider) metaNow() *metav1.Time {
	t := metav1.NewTime(p.now())
	return &t
}
