package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
)

// Secrets of the end-to-end delivery test: they reach the daemon through its environment, and
// must never come back out of it.
const (
	e2eSigningKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	e2eHookToken  = "hook-gateway-token-8c1d4e5f6a7b"
	e2ePathToken  = "T0001B0002pathToken9f8e7d6c"
)

// flakyHook is a webhook receiver that fails 30% of requests at random — 500 and 503 at once,
// 429 with a Retry-After, and, after it has processed the message (so that the sender cannot
// know), an answer too late or a reset connection — and that is down (it drops every
// connection) while the test says so. It checks every signature independently.
type flakyHook struct {
	mu        sync.Mutex
	rng       *rand.Rand
	down      bool
	processed map[string][][]byte // bodies by webhook-id, each time it was processed
	requests  int
	failures  map[string]int
	badSigs   int
	changed   chan struct{} // closed and replaced when something was processed
	hit       chan struct{} // closed and replaced at every request
}

func newFlakyHook() *flakyHook {
	return &flakyHook{rng: rand.New(rand.NewPCG(12, 30)), processed: map[string][][]byte{}, failures: map[string]int{}, changed: make(chan struct{}), hit: make(chan struct{})}
}

// e2eVerify checks a Standard Webhooks signature and the timestamp's freshness, sharing no
// code with the sender.
func e2eVerify(h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e2eSigningKey, "whsec_"))
	if err != nil {
		return false
	}
	var ts int64
	if _, err := fmt.Sscan(h.Get("webhook-timestamp"), &ts); err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, got, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(got), []byte(want)) {
			return true
		}
	}
	return false
}

func (f *flakyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.requests++
	close(f.hit)
	f.hit = make(chan struct{})
	if f.down {
		f.failures["down"]++
		f.mu.Unlock()
		drop(w)
		return
	}
	if !e2eVerify(r.Header, body) || r.URL.Path != "/hooks/"+e2ePathToken || r.Header.Get("Authorization") != "Bearer "+e2eHookToken {
		f.badSigs++
	}
	kind := ""
	switch roll := f.rng.Float64(); {
	case roll < 0.06:
		kind = "500"
	case roll < 0.12:
		kind = "503"
	case roll < 0.18:
		kind = "429"
	case roll < 0.24:
		kind = "late"
	case roll < 0.30:
		kind = "reset"
	}
	if kind != "" {
		f.failures[kind]++
	}
	if kind == "" || kind == "late" || kind == "reset" {
		id := r.Header.Get("webhook-id")
		f.processed[id] = append(f.processed[id], body)
		close(f.changed)
		f.changed = make(chan struct{})
	}
	f.mu.Unlock()
	switch kind {
	case "500", "503":
		// An error page that quotes the request: the delivery's last error must not keep it.
		code := map[string]int{"500": 500, "503": 503}[kind]
		http.Error(w, "upstream failed for "+r.Header.Get("Authorization")+" at "+r.URL.Path, code)
	case "429":
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	case "late":
		// Answers after the endpoint's timeout (1s): the sender gives up and sends again.
		time.Sleep(1500 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	case "reset":
		drop(w)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (f *flakyHook) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// waitFor blocks until cond holds over what was processed.
func (f *flakyHook) waitFor(t *testing.T, what string, cond func(processed map[string][][]byte) bool) {
	t.Helper()
	waitChanged(t, what, func() (bool, <-chan struct{}) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return cond(f.processed), f.changed
	})
}

// waitChanged blocks until check says ok, looking again each time the channel it returned
// closes, or fails the test when its context ends.
func waitChanged(t *testing.T, what string, check func() (ok bool, changed <-chan struct{})) {
	t.Helper()
	for {
		ok, ch := check()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatalf("waiting for %s", what)
		}
	}
}

// liveBinary is the real greenlight serve with its standard error kept.
type liveBinary struct {
	*binary
	mu   sync.Mutex
	logs strings.Builder
}

func startLiveBinary(t *testing.T, bin string, args, env []string) *liveBinary {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	b := &liveBinary{binary: &binary{cmd: cmd}}
	t.Cleanup(func() { b.kill(t) })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		b.write(sc.Text())
		if u, ok := strings.CutPrefix(sc.Text(), "greenlight: serving on "); ok {
			b.url = u
			break
		}
	}
	require.NotEmpty(t, b.url, "greenlight serve did not start:\n%s", b.text())
	go func() {
		for sc.Scan() {
			b.write(sc.Text())
		}
	}()
	return b
}

func (b *liveBinary) write(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs.WriteString(line + "\n")
}

func (b *liveBinary) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs.String()
}

// TestServeDeliversThroughFailuresAndKill9 runs the real binary with a webhook endpoint whose
// receiver fails 30% of requests at random and goes down for a stretch; the daemon is killed
// with SIGKILL while deliveries are pending and started again on the same data. Every event
// of every analysis arrives, every signature verifies independently, the only repeats are of
// one webhook-id with the same bytes, and no secret of the endpoint shows in a payload, an
// API answer, the store or the logs.
func TestServeDeliversThroughFailuresAndKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; full run")
	}
	bin := filepath.Join(t.TempDir(), "greenlight")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	hook := newFlakyHook()
	receiver := httptest.NewServer(hook)
	defer receiver.Close()
	blue := startApp(t, app.Config{})
	failing := startApp(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})

	notifications := `apiVersion: greenlight/v1
kind: Notifications
metadata: {name: daemon}
retry: {minBackoff: 100ms, maxBackoff: 1s, maxAttempts: 1000, maxAge: 1h}
endpoints:
  - name: deploy-bot
    kind: webhook
    url: "${HOOK_URL}"
    secrets: ["${HOOK_SECRET}"]
    headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
    timeout: 1s
    allAnalyses: true
    # A smoke gate that a kill interrupts runs again after the restart, and announces itself
    # again: exactly one of each event is asked of these two.
    events: [started, decided]
`
	dir := dirWith(t, serveSpecs, notifications)
	data := t.TempDir()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--config", dir, "--data", data, "--tokens-file", tokensFile(t), "--external-url", "https://greenlight.example.com"}
	env := []string{"HOOK_URL=" + receiver.URL + "/hooks/" + e2ePathToken, "HOOK_SECRET=" + e2eSigningKey, "HOOK_TOKEN=" + e2eHookToken}
	secrets := []string{e2eSigningKey, strings.TrimPrefix(e2eSigningKey, "whsec_"), e2eHookToken, e2ePathToken}

	startAnalyses := func(d *liveBinary, round, n int) {
		for i := range n {
			body := fmt.Sprintf(`{"spec": "gate", "key": "r%d-%d", "environments": {"blue": %q, "green": %q}}`, round, i, blue, failing)
			var a struct{ ID string }
			require.Equal(t, http.StatusCreated, d.call(t, "POST", "/api/v1/analyses", serveAdminToken, body, &a))
		}
	}

	// Round 1: analyses are started and decided; the receiver goes down after a few messages,
	// and the daemon is killed while their deliveries wait to be retried.
	d1 := startLiveBinary(t, bin, args, env)
	startAnalyses(d1, 1, 20)
	hook.waitFor(t, "a few messages", func(p map[string][][]byte) bool { return len(p) >= 8 })
	hook.setDown(true)
	hook.mu.Lock()
	downAt := hook.requests
	hook.mu.Unlock()
	for {
		// Retries come to the downed receiver: deliveries are pending when the daemon dies.
		hook.mu.Lock()
		n := hook.requests
		ch := hook.hit
		hook.mu.Unlock()
		if n >= downAt+10 {
			break
		}
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatal("no retries reached the downed receiver")
		}
	}
	var pending struct {
		Deliveries []json.RawMessage `json:"deliveries"`
	}
	require.Equal(t, http.StatusOK, d1.call(t, "GET", "/api/v1/deliveries?state=pending", serveReadToken, "", &pending))
	require.NotEmpty(t, pending.Deliveries, "deliveries are pending when the daemon is killed")
	d1.kill(t)
	logs := d1.text()

	// Round 2: the daemon starts again on the same data, the receiver comes back, more
	// analyses are decided.
	d2 := startLiveBinary(t, bin, args, env)
	hook.setDown(false)
	startAnalyses(d2, 2, 20)

	var list struct {
		Analyses []struct{ ID, Verdict string } `json:"analyses"`
	}
	require.Equal(t, http.StatusOK, d2.call(t, "GET", "/api/v1/analyses?limit=500", serveReadToken, "", &list))
	require.Len(t, list.Analyses, 40, "no analysis lost")
	for _, a := range list.Analyses {
		v := waitBinaryVerdict(t, d2.binary, a.ID)
		require.Equal(t, "rollback", v.Verdict)
	}
	want := map[string]bool{} // "type analysis"
	for _, a := range list.Analyses {
		want["analysis.started "+a.ID], want["analysis.decided "+a.ID] = true, true
	}
	events := func(p map[string][][]byte) map[string]string { // "type analysis" → webhook-id
		out := map[string]string{}
		for id, bodies := range p {
			var pl struct {
				Type string
				Data struct{ Analysis struct{ ID string } }
			}
			if json.Unmarshal(bodies[0], &pl) == nil {
				out[pl.Type+" "+pl.Data.Analysis.ID] = id
			}
		}
		return out
	}
	hook.waitFor(t, "every event", func(p map[string][][]byte) bool {
		got := events(p)
		for k := range want {
			if _, ok := got[k]; !ok {
				return false
			}
		}
		return true
	})

	hook.mu.Lock()
	processed := map[string][][]byte{}
	for id, bodies := range hook.processed {
		processed[id] = bodies
	}
	failures, badSigs, requests := hook.failures, hook.badSigs, hook.requests
	hook.mu.Unlock()
	assert.Zero(t, badSigs, "every request verifies: signature, timestamp, path and header")
	got := events(processed)
	assert.Len(t, got, len(want))
	assert.Len(t, processed, len(want), "one webhook-id per event: repeats only ever repeat an id")
	repeats := 0
	for id, bodies := range processed {
		for _, b := range bodies[1:] {
			repeats++
			assert.Equal(t, string(bodies[0]), string(b), "a repeat of %s is the same bytes", id)
		}
		for _, s := range secrets {
			assert.NotContains(t, string(bodies[0]), s, "a payload holds no endpoint secret")
		}
		assert.Contains(t, string(bodies[0]), `"api":"https://greenlight.example.com/api/v1/analyses/`)
	}
	t.Logf("%d requests, %d events, %d repeats, failures %v", requests, len(processed), repeats, failures)
	assert.NotZero(t, failures["down"], "the receiver was down for a stretch")

	var dead struct {
		Deliveries []json.RawMessage `json:"deliveries"`
	}
	require.Equal(t, http.StatusOK, d2.call(t, "GET", "/api/v1/deliveries?state=dead", serveReadToken, "", &dead))
	assert.Empty(t, dead.Deliveries, "nothing given up")
	var bodies []string
	for _, path := range []string{"/api/v1/deliveries?limit=500", "/api/v1/analyses?limit=500", "/api/v1/analyses/" + list.Analyses[0].ID, "/metrics"} {
		req, err := http.NewRequest("GET", d2.url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+serveReadToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		bodies = append(bodies, string(b))
	}
	var all struct {
		Deliveries []struct {
			State    string `json:"state"`
			Attempts int    `json:"attempts"`
		} `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &all))
	assert.Len(t, all.Deliveries, len(want), "one delivery per event")
	retried := 0
	for _, d := range all.Deliveries {
		if d.Attempts > 1 {
			retried++
		}
	}
	assert.NotZero(t, retried, "the API shows the attempts retries took")
	d2.kill(t)
	bodies = append(bodies, logs, d2.text())
	files, err := filepath.Glob(filepath.Join(data, "greenlight.db*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		bodies = append(bodies, string(b))
	}
	for i, b := range bodies {
		for _, s := range secrets {
			assert.NotContains(t, b, s, "answer, log or store file %d", i)
		}
	}
}

// waitBinaryVerdict long-polls a verdict until it is decided.
func waitBinaryVerdict(t *testing.T, b *binary, id string) verdictJSON {
	t.Helper()
	for {
		var v verdictJSON
		require.Equal(t, http.StatusOK, b.call(t, "GET", "/api/v1/analyses/"+id+"/verdict?wait=30s", serveReadToken, "", &v))
		if v.Decided {
			return v
		}
	}
}
