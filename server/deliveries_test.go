package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/endpoints"
)

// hookSecret signs the test endpoints' deliveries; hookToken is a header value they carry.
const (
	hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hookToken  = "gateway-token-4f1c2e9a7b3d5e6f"
	hookPath   = "/hooks/T0001/B0002/aSecretPathToken7"
)

// hookMessage is one request a receiver got.
type hookMessage struct {
	ID, Timestamp, Signature, Auth string
	Body                           []byte
}

func (m hookMessage) payload(t *testing.T) emit.Payload {
	t.Helper()
	var p emit.Payload
	require.NoError(t, json.Unmarshal(m.Body, &p))
	return p
}

// hookReceiver records every request and answers with status(n) for the n-th (200 when nil).
type hookReceiver struct {
	mu     sync.Mutex
	got    []hookMessage
	status func(n int) int
	url    string
}

func newHookReceiver(t *testing.T, status func(n int) int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{status: status}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.url = srv.URL + hookPath
	return h
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, hookMessage{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
		Signature: r.Header.Get("webhook-signature"), Auth: r.Header.Get("Authorization"), Body: body})
	n := len(h.got)
	h.mu.Unlock()
	code := http.StatusOK
	if h.status != nil {
		code = h.status(n)
	}
	w.WriteHeader(code)
	// A receiver that echoes what it was sent: the delivery's last error must not keep it.
	_, _ = io.WriteString(w, "got "+r.Header.Get("Authorization")+" on "+r.URL.Path)
}

func (h *hookReceiver) messages() []hookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookMessage(nil), h.got...)
}

// verifySignature checks a Standard Webhooks signature on its own terms, sharing no code
// with the sender.
func verifySignature(secretText string, m hookMessage) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretText, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(m.ID + "." + m.Timestamp + "."))
	mac.Write(m.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(m.Signature) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// outcomes collects the delivery outcomes the server records, to wait for them.
type outcomes struct {
	mu   sync.Mutex
	seen []string // endpoint/outcome
	more chan struct{}
}

func newOutcomes() *outcomes { return &outcomes{more: make(chan struct{})} }

func (o *outcomes) record(k emit.Key, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, k.Endpoint+"/"+outcome)
	close(o.more)
	o.more = make(chan struct{})
}

// wait blocks until n outcomes of endpoint/outcome are recorded.
func (o *outcomes) wait(t *testing.T, what string, n int) {
	t.Helper()
	for {
		o.mu.Lock()
		count := 0
		for _, s := range o.seen {
			if s == what {
				count++
			}
		}
		more := o.more
		o.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-more:
		case <-t.Context().Done():
			t.Fatalf("waiting for %d %s", n, what)
		}
	}
}

// notifyOptions configures endpoints through the registry, as the daemon does.
func notifyOptions(t *testing.T, oc *outcomes, cfgs ...endpoints.Config) func(*Options) {
	t.Helper()
	emitters, routes, err := endpoints.Build(cfgs, endpoints.Options{Client: &http.Client{}})
	require.NoError(t, err)
	n := &Notifications{Emitters: emitters, Links: emit.LinkTemplates{API: "https://greenlight.example.com/api/v1/analyses/{id}"}, Redactor: secret.NewRedactor()}
	for i, r := range routes {
		n.Endpoints = append(n.Endpoints, Endpoint{Route: r, AllAnalyses: cfgs[i].Name != "ops"})
		n.Redactor.Add(emit.URLSecrets(string(cfgs[i].URL))...)
	}
	return func(o *Options) {
		o.Notifications = n
		o.recorded = oc.record
		// No jitter: a failed delivery is due again at once (Retry-After aside).
		o.Delivery = emit.Options{Rand: func() float64 { return 0 }}
	}
}

func webhookTo(name, url string, events ...emit.EventType) endpoints.Config {
	return endpoints.Config{Name: name, Kind: "webhook", URL: secret.Secret(url), Events: events,
		Secrets: []secret.Secret{hookSecret}, Headers: map[string]secret.Secret{"Authorization": "Bearer " + hookToken}}
}

// TestDeliveriesOfAnAnalysis: an analysis's start, verdict and override reach the endpoints
// that want them — signed, with one webhook-id per event for every endpoint, the payload
// naming the analysis and its verdict — and the API shows each delivery.
func TestDeliveriesOfAnAnalysis(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	all := newHookReceiver(t, nil)
	named := newHookReceiver(t, nil)
	oc := newOutcomes()
	d := startDaemon(t, daemonConfig{tokens: testTokens(t), opts: notifyOptions(t, oc,
		webhookTo("audit", all.url),
		webhookTo("ops", named.url, emit.Decided, emit.Overridden), // only for analyses that name it: fast does
	)})

	a := d.start(writeToken, fastOn(blue, green, "deploy-1"))
	require.Equal(t, "rollback", d.waitVerdict(readToken, a.ID).Verdict)
	d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/override", adminToken, overrideRequest{Decision: verdict.Promote, Why: "known flake"}, http.StatusOK, nil)
	other := d.start(writeToken, longOn(blue, green)) // long names no endpoint: only audit hears of it
	d.callJSON("POST", "/api/v1/analyses/"+other.ID+"/abort", writeToken, abortRequest{Reason: "superseded", By: "bo"}, http.StatusOK, nil)
	oc.wait(t, "audit/delivered", 6)
	oc.wait(t, "ops/delivered", 2)

	types := func(ms []hookMessage) []string {
		var out []string
		for _, m := range ms {
			p := m.payload(t)
			out = append(out, string(p.Type)+" "+p.Data.Analysis.ID)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"analysis.started " + a.ID, "analysis.smoke_done " + a.ID, "analysis.decided " + a.ID,
		"analysis.overridden " + a.ID, "analysis.started " + other.ID, "analysis.aborted " + other.ID}, types(all.messages()))
	assert.ElementsMatch(t, []string{"analysis.decided " + a.ID, "analysis.overridden " + a.ID}, types(named.messages()))

	ids := map[string]string{} // event type of a → webhook-id
	for _, m := range all.messages() {
		require.NoError(t, verifySignature(hookSecret, m), "an independent verifier accepts it")
		assert.Equal(t, "Bearer "+hookToken, m.Auth, "the configured header")
		p := m.payload(t)
		if p.Data.Analysis.ID == a.ID {
			ids[string(p.Type)] = m.ID
		}
		assert.Equal(t, emit.APIVersion, p.Data.APIVersion)
		require.NotNil(t, p.Data.Links)
		assert.Equal(t, "https://greenlight.example.com/api/v1/analyses/"+p.Data.Analysis.ID, p.Data.Links.API)
		assert.NotContains(t, string(m.Body), greenToken, "the analysis's secrets are redacted")
		switch p.Type {
		case emit.Started:
			assert.Nil(t, p.Data.Verdict)
			assert.Equal(t, "green", p.Data.Analysis.Candidate.Name)
		case emit.Decided:
			require.NotNil(t, p.Data.Verdict)
			assert.Equal(t, verdict.Rollback, p.Data.Verdict.Decision)
			assert.Equal(t, map[string]string{"team": "pay"}, p.Data.Analysis.Labels)
			assert.Equal(t, green, p.Data.Analysis.Candidate.URL)
		case emit.Overridden:
			require.NotNil(t, p.Data.Verdict.Override)
			assert.Equal(t, verdict.Promote, p.Data.Verdict.Decision)
			assert.Equal(t, verdict.Rollback, p.Data.Verdict.Override.Was)
		case emit.Aborted:
			assert.Contains(t, p.Data.Message, "superseded (by bo)")
		case emit.SmokeDone:
			require.NotNil(t, p.Data.Smoke, "the gate's report")
			assert.Contains(t, p.Data.Message, "smoke failed on green: smoke › health", "green fails its health check")
			assert.Nil(t, p.Data.Verdict)
		}
	}
	for _, m := range named.messages() {
		require.NoError(t, verifySignature(hookSecret, m))
		assert.Equal(t, ids[string(m.payload(t).Type)], m.ID, "one webhook-id per event, for every endpoint")
	}

	var list deliveryList
	d.callJSON("GET", "/api/v1/analyses/"+a.ID+"/deliveries", readToken, nil, http.StatusOK, &list)
	require.Len(t, list.Deliveries, 6, "audit: started, smoke_done, decided, overridden; ops: decided, overridden")
	for _, v := range list.Deliveries {
		assert.Equal(t, "delivered", v.State)
		assert.Equal(t, 1, v.Attempts)
		assert.Equal(t, a.ID, v.Analysis)
		assert.NotNil(t, v.DoneAt)
		assert.Nil(t, v.NextAttempt)
	}
	assert.Equal(t, "analysis.overridden", list.Deliveries[0].Type, "newest first")
	var dead deliveryList
	d.callJSON("GET", "/api/v1/deliveries?state=dead", readToken, nil, http.StatusOK, &dead)
	assert.Empty(t, dead.Deliveries)
	var page deliveryList
	d.callJSON("GET", "/api/v1/deliveries?endpoint=audit&limit=2", readToken, nil, http.StatusOK, &page)
	assert.Len(t, page.Deliveries, 2)
	assert.NotEmpty(t, page.Next)
	status, data := d.call("GET", "/api/v1/deliveries?state=lost&limit=0", readToken, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(data), `"field":"state"`)
	assert.Contains(t, string(data), `"field":"limit"`)
	status, _ = d.call("GET", "/api/v1/analyses/nope/deliveries", readToken, nil)
	assert.Equal(t, http.StatusNotFound, status)

	_, metrics := d.call("GET", "/metrics", readToken, nil)
	assert.Contains(t, string(metrics), `greenlight_delivery_attempts_total{endpoint="audit",outcome="delivered"} 6`)
	assert.Contains(t, string(metrics), `greenlight_deliveries{endpoint="ops",state="delivered"} 2`)
}

// TestGoneRedeliverEnable: a 410 disables its endpoint, whose later deliveries wait; enabling
// it by hand sends them; a delivered message can be sent again by hand, with the same id.
func TestGoneRedeliverEnable(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	var gone sync.Mutex
	goneNow := true
	hook := newHookReceiver(t, func(int) int {
		gone.Lock()
		defer gone.Unlock()
		if goneNow {
			return http.StatusGone
		}
		return http.StatusNoContent
	})
	oc := newOutcomes()
	d := startDaemon(t, daemonConfig{tokens: testTokens(t), opts: notifyOptions(t, oc, webhookTo("audit", hook.url, emit.Decided))})

	first := d.start(writeToken, fastOn(blue, green, ""))
	d.waitVerdict(readToken, first.ID)
	oc.wait(t, "audit/dead", 1)
	second := d.start(writeToken, fastOn(blue, green, ""))
	d.waitVerdict(readToken, second.ID)

	var held deliveryList
	d.callJSON("GET", "/api/v1/analyses/"+second.ID+"/deliveries", readToken, nil, http.StatusOK, &held)
	require.Len(t, held.Deliveries, 1)
	assert.Equal(t, "pending", held.Deliveries[0].State, "held while its endpoint is disabled")
	assert.Contains(t, held.Deliveries[0].EndpointDisabled, "410")
	var deadOne deliveryList
	d.callJSON("GET", "/api/v1/analyses/"+first.ID+"/deliveries", readToken, nil, http.StatusOK, &deadOne)
	require.Len(t, deadOne.Deliveries, 1)
	assert.Equal(t, "dead", deadOne.Deliveries[0].State)
	assert.Contains(t, deadOne.Deliveries[0].LastError, "410")
	_, metrics := d.call("GET", "/metrics", readToken, nil)
	assert.Contains(t, string(metrics), `greenlight_endpoint_disabled{endpoint="audit"} 1`)

	gone.Lock()
	goneNow = false
	gone.Unlock()
	var ep endpointView
	d.callJSON("POST", "/api/v1/endpoints/audit/enable", adminToken, nil, http.StatusOK, &ep)
	assert.Equal(t, endpointView{Endpoint: "audit", Enabled: true, WasDisabled: ep.WasDisabled, Configured: true}, ep)
	assert.Contains(t, ep.WasDisabled, "410")
	oc.wait(t, "audit/delivered", 1)

	// The dead one, by hand: pending again, then delivered; the same webhook-id as before.
	id := strconv.FormatInt(deadOne.Deliveries[0].ID, 10)
	var re deliveryView
	d.callJSON("POST", "/api/v1/deliveries/"+id+"/redeliver", adminToken, nil, http.StatusOK, &re)
	assert.Equal(t, "pending", re.State)
	assert.Zero(t, re.Attempts, "a new retry window")
	oc.wait(t, "audit/delivered", 2)
	msgs := hook.messages()
	assert.Equal(t, msgs[0].ID, msgs[len(msgs)-1].ID, "a redelivery repeats the event's id")
	assert.Equal(t, msgs[0].Body, msgs[len(msgs)-1].Body, "and its bytes")
	var got analysisView
	d.callJSON("GET", "/api/v1/analyses/"+first.ID, readToken, nil, http.StatusOK, &got)
	require.Len(t, got.Audit, 1)
	assert.Equal(t, "redeliver", got.Audit[0].Action)
	assert.Equal(t, "oncall", got.Audit[0].By)

	status, _ := d.call("POST", "/api/v1/deliveries/999999/redeliver", adminToken, nil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = d.call("POST", "/api/v1/endpoints/nope/enable", adminToken, nil)
	assert.Equal(t, http.StatusNotFound, status)
	var again endpointView
	d.callJSON("POST", "/api/v1/endpoints/audit/enable", adminToken, nil, http.StatusOK, &again)
	assert.Equal(t, endpointView{Endpoint: "audit", Enabled: true, Configured: true}, again, "enabling an enabled endpoint is harmless")
}

// TestDeliverySecretsNeverShown: an endpoint's URL (a token in its path), signing secret and
// header value never reach the store, the API or the logs — even when the receiver echoes
// them in a failed answer.
func TestDeliverySecretsNeverShown(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	hook := newHookReceiver(t, func(int) int { return http.StatusBadRequest })
	oc := newOutcomes()
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d := startDaemon(t, daemonConfig{dbPath: db, opts: notifyOptions(t, oc, webhookTo("audit", hook.url))})
	a := d.start("", fastOn(blue, green, ""))
	d.waitVerdict("", a.ID)
	oc.wait(t, "audit/dead", 2)

	var bodies []string
	for _, path := range []string{"/api/v1/deliveries", "/api/v1/analyses/" + a.ID + "/deliveries", "/api/v1/analyses/" + a.ID, "/metrics"} {
		_, b := d.call("GET", path, "", nil)
		bodies = append(bodies, string(b))
	}
	assert.Contains(t, bodies[0], "status 400", "the last error is shown")
	for _, m := range hook.messages() {
		bodies = append(bodies, string(m.Body))
	}
	secrets := []string{hookSecret, strings.TrimPrefix(hookSecret, "whsec_"), hookToken, hookPath, strings.TrimPrefix(hook.url, "http://"), greenToken}
	for _, b := range bodies {
		for _, s := range secrets {
			assert.NotContains(t, b, s)
		}
	}
	d.stop()
	files, err := filepath.Glob(db + "*")
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, s := range secrets {
			assert.NotContains(t, string(data), s, f)
		}
	}
	for _, s := range secrets {
		assert.NotContains(t, d.logs.String(), s)
	}
}

// TestDeliveriesResumeAfterRestart: deliveries enqueued before a stop are made by the next
// daemon on the same store.
func TestDeliveriesResumeAfterRestart(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	var down sync.Mutex
	isDown := true
	hook := newHookReceiver(t, func(int) int {
		down.Lock()
		defer down.Unlock()
		if isDown {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	db := filepath.Join(t.TempDir(), "greenlight.db")
	oc := newOutcomes()
	retryLater := func(o *Options) {
		notifyOptions(t, oc, webhookTo("audit", hook.url, emit.Decided))(o)
		o.Delivery.Rand = func() float64 { return 0.5 } // the next attempt is half an hour away: later than this daemon lives
		o.Delivery.Policy = emit.Policy{MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxAttempts: 5, MaxAge: 24 * time.Hour}
	}
	d1 := startDaemon(t, daemonConfig{dbPath: db, opts: retryLater})
	a := d1.start("", fastOn(blue, green, ""))
	d1.waitVerdict("", a.ID)
	oc.wait(t, "audit/failed", 1)
	d1.stop()

	ds, err := storeDeliveries(db, a.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, store.DeliveryPending, ds[0].State)
	require.Equal(t, 1, ds[0].Attempts)

	down.Lock()
	isDown = false
	down.Unlock()
	oc2 := newOutcomes()
	// The next daemon's clock stands past the delivery's next attempt.
	d2 := startDaemon(t, daemonConfig{dbPath: db, opts: func(o *Options) {
		notifyOptions(t, oc2, webhookTo("audit", hook.url, emit.Decided))(o)
		o.Delivery.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	}})
	oc2.wait(t, "audit/delivered", 1)
	var list deliveryList
	d2.callJSON("GET", "/api/v1/analyses/"+a.ID+"/deliveries", "", nil, http.StatusOK, &list)
	require.Len(t, list.Deliveries, 1)
	assert.Equal(t, "delivered", list.Deliveries[0].State)
	assert.Equal(t, 2, list.Deliveries[0].Attempts)
	msgs := hook.messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, msgs[0].ID, msgs[1].ID)
}

func storeDeliveries(db, analysis string) ([]store.Delivery, error) {
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Deliveries(context.Background(), analysis)
}
